import { createReadStream } from "node:fs";
import { type CsvRecord, CsvRecordReader } from "../../shared/csv/csv-record-reader";
import type { RecordSource } from "../../shared/engine/compute-refunds";

/** A subscriptions CSV file on disk, read afresh (streamed, 1 MiB at a time) on every pass. */
export class FileRecordSource implements RecordSource {
  constructor(readonly name: string) {}

  async *records(): AsyncIterable<CsvRecord[]> {
    const reader = new CsvRecordReader();
    const decoder = new TextDecoder("utf-8");
    for await (const chunk of createReadStream(this.name, { highWaterMark: 1 << 20 })) {
      const records = reader.push(decoder.decode(chunk as Buffer, { stream: true }));
      if (records.length > 0) yield records;
    }
    const last = [...reader.push(decoder.decode()), ...reader.end()];
    if (last.length > 0) yield last;
  }
}
