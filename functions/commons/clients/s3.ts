import { S3Client } from "@aws-sdk/client-s3";
import { tracedClient } from "./traced-client";

/** The functions' S3 client: snapshots and run files. */
export const s3Client = tracedClient(() => new S3Client({}));
