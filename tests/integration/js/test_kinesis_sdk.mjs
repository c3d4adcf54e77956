// sluice with the AWS SDK for JavaScript v3 in its default configuration.
//
// @aws-sdk/client-kinesis uses NodeHttp2Handler by default, which speaks
// HTTP/2 only (cleartext with prior knowledge for an http:// endpoint) and does
// not fall back to HTTP/1.1 -- so every call below succeeding means the server
// handled it over HTTP/2. The request handler is deliberately not overridden.
//
// Run: SLUICE_ENDPOINT=http://127.0.0.1:4566 node --test test_kinesis_sdk.mjs
// (tests/integration/test_kinesis_js.py does this against a fresh sluice).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import {
  KinesisClient,
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  PutRecordCommand,
  PutRecordsCommand,
  GetShardIteratorCommand,
  GetRecordsCommand,
  ListShardsCommand,
  DeleteStreamCommand,
  waitUntilStreamExists,
} from "@aws-sdk/client-kinesis";

const endpoint = process.env.SLUICE_ENDPOINT;
if (!endpoint) {
  throw new Error("SLUICE_ENDPOINT is not set");
}

const client = new KinesisClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKID", secretAccessKey: "secret" },
});
after(() => client.destroy());

const name = `js-${randomUUID().slice(0, 12)}`;

async function readShard(shardId, iteratorType = "TRIM_HORIZON") {
  const { ShardIterator } = await client.send(
    new GetShardIteratorCommand({ StreamName: name, ShardId: shardId, ShardIteratorType: iteratorType }),
  );
  let it = ShardIterator;
  const records = [];
  for (let i = 0; i < 200 && it; i++) {
    const out = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: 10000 }));
    records.push(...out.Records);
    assert.equal(typeof out.MillisBehindLatest, "number");
    it = out.NextShardIterator;
    if (out.Records.length === 0 && out.MillisBehindLatest === 0) return records;
  }
  if (!it) return records;
  throw new Error(`shard ${shardId} did not reach its end`);
}

const sent = new Map(); // sequence number -> { data, key, shard }

test("create stream and wait until ACTIVE", { timeout: 60000 }, async () => {
  const out = await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
  assert.equal(out.$metadata.httpStatusCode, 200);
  const waited = await waitUntilStreamExists(
    { client, maxWaitTime: 30, minDelay: 1, maxDelay: 2 },
    { StreamName: name },
  );
  assert.equal(waited.state, "SUCCESS");
  const { StreamDescriptionSummary: s } = await client.send(
    new DescribeStreamSummaryCommand({ StreamName: name }),
  );
  assert.equal(s.StreamStatus, "ACTIVE");
  assert.equal(s.StreamName, name);
  assert.equal(s.OpenShardCount, 2);
  assert.equal(s.StreamARN, `arn:aws:kinesis:us-east-1:000000000000:stream/${name}`);
  assert.ok(s.StreamCreationTimestamp instanceof Date);
});

test("ListShards", { timeout: 30000 }, async () => {
  const out = await client.send(new ListShardsCommand({ StreamName: name }));
  assert.equal(out.Shards.length, 2);
  for (const s of out.Shards) {
    assert.match(s.ShardId, /^shardId-\d{12}$/);
    assert.match(s.SequenceNumberRange.StartingSequenceNumber, /^\d+$/);
  }
  const starts = out.Shards.map((s) => BigInt(s.HashKeyRange.StartingHashKey)).sort((a, b) => (a < b ? -1 : 1));
  assert.equal(starts[0], 0n);
  const ends = out.Shards.map((s) => BigInt(s.HashKeyRange.EndingHashKey));
  assert.ok(ends.includes(2n ** 128n - 1n));
});

test("PutRecords and PutRecord", { timeout: 60000 }, async () => {
  const entries = [];
  for (let i = 0; i < 200; i++) {
    entries.push({ Data: new Uint8Array(randomBytes(1 + (i * 37) % 900)), PartitionKey: `key-${i}-${randomUUID()}` });
  }
  const out = await client.send(new PutRecordsCommand({ StreamName: name, Records: entries }));
  assert.equal(out.FailedRecordCount, 0);
  assert.equal(out.Records.length, entries.length);
  out.Records.forEach((r, i) => {
    assert.equal(r.ErrorCode, undefined);
    assert.match(r.SequenceNumber, /^\d+$/);
    sent.set(r.SequenceNumber, { data: entries[i].Data, key: entries[i].PartitionKey, shard: r.ShardId });
  });
  assert.equal(sent.size, entries.length, "duplicate sequence numbers");

  // A record bigger than HTTP/2's default 64 KiB flow-control window, both ways.
  const big = new Uint8Array(randomBytes(300 * 1024));
  const one = await client.send(new PutRecordCommand({ StreamName: name, Data: big, PartitionKey: "big" }));
  sent.set(one.SequenceNumber, { data: big, key: "big", shard: one.ShardId });

  // Many requests in flight at once on the shared HTTP/2 session.
  const parallel = await Promise.all(
    Array.from({ length: 24 }, (_, i) => {
      const data = new TextEncoder().encode(`parallel-${i}`);
      return client
        .send(new PutRecordCommand({ StreamName: name, Data: data, PartitionKey: `p${i}` }))
        .then((r) => ({ r, data, key: `p${i}` }));
    }),
  );
  for (const { r, data, key } of parallel) {
    sent.set(r.SequenceNumber, { data, key, shard: r.ShardId });
  }
  assert.equal(sent.size, entries.length + 1 + 24);
});

test("GetShardIterator and GetRecords return every record intact", { timeout: 60000 }, async () => {
  const { Shards } = await client.send(new ListShardsCommand({ StreamName: name }));
  const got = new Map();
  for (const s of Shards) {
    const recs = await readShard(s.ShardId);
    let prev = -1n;
    for (const r of recs) {
      const seq = BigInt(r.SequenceNumber);
      assert.ok(seq > prev, "records out of sequence order");
      prev = seq;
      assert.ok(r.Data instanceof Uint8Array);
      assert.ok(r.ApproximateArrivalTimestamp instanceof Date);
      assert.ok(Math.abs(r.ApproximateArrivalTimestamp.getTime() - Date.now()) < 10 * 60 * 1000);
      got.set(r.SequenceNumber, { data: r.Data, key: r.PartitionKey, shard: s.ShardId });
    }
  }
  assert.equal(got.size, sent.size);
  for (const [seq, want] of sent) {
    const have = got.get(seq);
    assert.ok(have, `record ${seq} missing`);
    assert.equal(have.key, want.key);
    assert.equal(have.shard, want.shard);
    assert.equal(Buffer.compare(Buffer.from(have.data), Buffer.from(want.data)), 0, `record ${seq} bytes differ`);
  }
  // LATEST sees nothing until something new arrives.
  assert.deepEqual(await readShard(Shards[0].ShardId, "LATEST"), []);
});

test("errors come back as typed exceptions", { timeout: 30000 }, async () => {
  await assert.rejects(
    client.send(new DescribeStreamSummaryCommand({ StreamName: `${name}-missing` })),
    (err) => {
      assert.equal(err.name, "ResourceNotFoundException");
      assert.equal(err.$metadata.httpStatusCode, 400);
      assert.ok(err.message.length > 0);
      return true;
    },
  );
  await assert.rejects(
    client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 1 })),
    (err) => err.name === "ResourceInUseException",
  );
  // The session is still fine afterwards.
  const ok = await client.send(new ListShardsCommand({ StreamName: name }));
  assert.equal(ok.Shards.length, 2);
});

test("DeleteStream", { timeout: 60000 }, async () => {
  await client.send(new DeleteStreamCommand({ StreamName: name }));
  const deadline = Date.now() + 20000;
  let gone = false;
  while (Date.now() < deadline) {
    try {
      const { StreamDescriptionSummary: s } = await client.send(
        new DescribeStreamSummaryCommand({ StreamName: name }),
      );
      assert.equal(s.StreamStatus, "DELETING");
    } catch (err) {
      assert.equal(err.name, "ResourceNotFoundException");
      gone = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(gone, "stream still there 20 s after DeleteStream");
});
