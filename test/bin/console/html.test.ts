import { describe, expect, it } from "vitest";
import { html, jsonScript, raw } from "../../../bin/console/html";

describe("html", () => {
  it("escapes what it is given, and keeps what it made", () => {
    const title = `<script>alert("x")</script> & 'ドコモ'`;
    const inner = html`<b>${title}</b>`;
    expect(html`<p>${inner}${[1, 2n, null, undefined, false]}</p>`.text).toBe(
      "<p><b>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;ドコモ&#39;</b>12</p>",
    );
    expect(html`${raw("<br>")}`.text).toBe("<br>");
  });

  it("puts JSON in a script element that no value can close", () => {
    const out = jsonScript("data", { title: "</script><script>alert(1)</script>" }).text;
    expect(out).toBe(
      '<script type="application/json" id="data">{"title":"\\u003c/script>\\u003cscript>alert(1)\\u003c/script>"}</script>',
    );
    expect(JSON.parse(out.slice(out.indexOf(">") + 1, out.lastIndexOf("</script>")))).toEqual({
      title: "</script><script>alert(1)</script>",
    });
  });
});
