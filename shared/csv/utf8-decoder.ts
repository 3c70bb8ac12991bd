/**
 * A streaming UTF-8 decoder that marks bytes that are not UTF-8 instead of hiding them. TextDecoder turns them
 * into U+FFFD, which a file may also hold honestly; this decoder puts U+DFFF there instead: a lone surrogate,
 * which no valid UTF-8 ever decodes to, so a value holding it is known to be bad (see `INVALID_UTF8`).
 * The byte-order mark is kept: the CSV reader drops exactly one.
 */
export const INVALID_UTF8 = "\uDFFF";

/**
 * True when `text` holds a byte the decoder marked as not UTF-8: a U+DFFF on its own. The same code unit is also
 * the second half of a valid pair (U+1F3FF, say, is D83C DFFF), so one right after a high surrogate is a character,
 * not a mark: the decoder only ever writes a high surrogate as the first half of a pair.
 */
export function holdsInvalidUtf8(text: string): boolean {
  for (let at = text.indexOf(INVALID_UTF8); at !== -1; at = text.indexOf(INVALID_UTF8, at + 1)) {
    const before = text.charCodeAt(at - 1); // NaN at the start
    if (!(before >= 0xd800 && before <= 0xdbff)) return true;
  }
  return false;
}

export class Utf8ChunkDecoder {
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  private readonly strict = new TextDecoder("utf-8", { ignoreBOM: true, fatal: true });
  private tail = new Uint8Array(0);

  /** Decodes the next chunk; an incomplete sequence at its end waits for the next chunk. */
  decode(chunk: Uint8Array): string {
    const bytes = this.tail.length > 0 ? concat(this.tail, chunk) : chunk;
    const cut = completeLength(bytes);
    this.tail = bytes.slice(cut);
    return this.decodeComplete(bytes.subarray(0, cut));
  }

  /** Ends the input: what is left is an incomplete sequence, so not UTF-8. */
  end(): string {
    const rest = this.tail.length > 0 ? INVALID_UTF8 : "";
    this.tail = new Uint8Array(0);
    return rest;
  }

  private decodeComplete(bytes: Uint8Array): string {
    // The common case, all valid: the native strict decoder checks and decodes in one pass. Only a chunk it
    // refuses is walked byte by byte to mark the bad bytes.
    try {
      return this.strict.decode(bytes);
    } catch {
      return this.markInvalid(bytes);
    }
  }

  private markInvalid(bytes: Uint8Array): string {
    let out = "";
    let from = 0;
    let i = 0;
    while (i < bytes.length) {
      const length = sequenceLength(bytes, i);
      if (length > 0) {
        i += length;
        continue;
      }
      if (i > from) out += this.decoder.decode(bytes.subarray(from, i));
      out += INVALID_UTF8;
      i++;
      from = i;
    }
    if (from === 0) return this.decoder.decode(bytes); // the common case: all valid
    return out + this.decoder.decode(bytes.subarray(from));
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Length of the valid UTF-8 sequence at `i` (RFC 3629: no overlongs, no surrogates, ≤ U+10FFFF), or 0. */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const x = b[i + k];
    return x !== undefined && x >= lo && x <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** How many bytes from the start can be decoded now: all but a possibly incomplete last sequence. */
function completeLength(b: Uint8Array): number {
  for (let back = 1; back <= 3 && back <= b.length; back++) {
    const c = b[b.length - back] as number;
    if (c < 0x80) return b.length;
    if (c >= 0xc0) {
      const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
      return need > back ? b.length - back : b.length;
    }
  }
  return b.length;
}
