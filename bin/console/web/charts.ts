// The console's charts, drawn in the browser from the data the page carries (`#preview-data`, the same numbers as
// its tables): the deltas' distribution per currency, and the totals per service before and after. Chart.js,
// bundled by scripts/build.mjs into dist/console/charts.js. Amounts are exact strings in the data; they become
// numbers here only to be drawn.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

interface PreviewData {
  counts: { calculated: number; adjusted: number; voided: number; unchanged: number } | null;
  deltas: { currency: string; buckets: { from: string; to: string; count: number }[] }[];
  totals: { service: string; currency: string; before: string; after: string }[];
}

const element = document.getElementById("preview-data");
if (element?.textContent) {
  const data = JSON.parse(element.textContent) as PreviewData;
  const drawn: Record<string, { labels: string[]; datasets: { label: string; data: number[] }[] }> = {};
  const options = { animation: false as const, responsive: true, maintainAspectRatio: false };
  for (const dist of data.deltas) {
    const canvas = document.getElementById(`chart-deltas-${dist.currency}`) as HTMLCanvasElement | null;
    if (!canvas) continue;
    const chart = new Chart(canvas, {
      type: "bar",
      data: {
        labels: dist.buckets.map((b) => (b.from === b.to ? b.from : `${b.from}…${b.to}`)),
        datasets: [
          { label: `lines (${dist.currency})`, data: dist.buckets.map((b) => b.count), backgroundColor: "#0b4f9c" },
        ],
      },
      options: {
        ...options,
        scales: { x: { title: { display: true, text: `delta (${dist.currency}, minor units)` } } },
      },
    });
    drawn[canvas.id] = chart.data as (typeof drawn)[string];
  }
  const totals = document.getElementById("chart-totals") as HTMLCanvasElement | null;
  if (totals) {
    const chart = new Chart(totals, {
      type: "bar",
      data: {
        labels: data.totals.map((t) => `${t.service} (${t.currency})`),
        datasets: [
          { label: "now", data: data.totals.map((t) => Number(t.before)), backgroundColor: "#8a9bb0" },
          { label: "after", data: data.totals.map((t) => Number(t.after)), backgroundColor: "#c45500" },
        ],
      },
      options,
    });
    drawn[totals.id] = chart.data as (typeof drawn)[string];
  }
  // What the charts draw, for whoever reads the page by script (the browser test compares it with the preview).
  (window as unknown as { hiwariCharts: typeof drawn }).hiwariCharts = drawn;
}
