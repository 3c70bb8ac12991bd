import { type CsvRecord, CsvRecordReader } from "../csv/csv-record-reader";
import type { RecordSource } from "./reference/reference-engine";

/** A subscriptions snapshot held in memory as text (a Map batch, a test case). */
export class TextRecordSource implements RecordSource {
  constructor(
    private readonly text: string,
    readonly name = "subscriptions",
  ) {}

  async *records(): AsyncIterable<CsvRecord[]> {
    const reader = new CsvRecordReader();
    yield [...reader.push(this.text), ...reader.end()];
  }
}
