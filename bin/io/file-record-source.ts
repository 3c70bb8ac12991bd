import { createReadStream } from "node:fs";
import { type CsvRecord, CsvRecordReader } from "../../shared/csv/csv-record-reader";
import { Utf8ChunkDecoder } from "../../shared/csv/utf8-decoder";
import type { RecordSource } from "../../shared/engine/reference/reference-engine";

/** A subscriptions CSV file on disk, read afresh (streamed, 1 MiB at a time) on every pass. */
export class FileRecordSource implements RecordSource {
  constructor(readonly name: string) {}

  async *records(): AsyncIterable<CsvRecord[]> {
    const reader = new CsvRecordReader();
    const decoder = new Utf8ChunkDecoder();
    for await (const chunk of createReadStream(this.name, { highWaterMark: 1 << 20 })) {
      const records = reader.push(decoder.decode(chunk as Buffer));
      if (records.length > 0) yield records;
    }
    const last = [...reader.push(decoder.end()), ...reader.end()];
    if (last.length > 0) yield last;
  }
}
