// The npm sqs-consumer library (bbc/sqs-consumer) processing sluice queues end
// to end: its receive loop, batch deletes, heartbeat visibility extensions,
// terminateVisibilityTimeout on failure, and FIFO batches.
//
// Run: SLUICE_ENDPOINT=http://127.0.0.1:4566 node --test test_sqs_consumer.mjs
// (tests/integration/test_sqs_consumer.py does this against a fresh sluice).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  SQSClient,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";
import { Consumer } from "sqs-consumer";

const endpoint = process.env.SLUICE_ENDPOINT;
if (!endpoint) {
  throw new Error("SLUICE_ENDPOINT is not set");
}

const sqs = new SQSClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKID", secretAccessKey: "secret" },
  maxAttempts: 1,
});
after(() => sqs.destroy());

const unique = (stem) => `${stem}-${randomUUID().slice(0, 8)}`;

async function createQueue(name, Attributes = {}) {
  return (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes }))).QueueUrl;
}

async function counts(QueueUrl) {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({
    QueueUrl,
    AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
      "QueueArn"],
  }));
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible),
    arn: Attributes.QueueArn,
  };
}

// The counts once the consumer's last deletes landed: stop() does not wait
// for them, so give them up to 5 s.
async function settled(QueueUrl) {
  const deadline = Date.now() + 5000;
  let c = await counts(QueueUrl);
  while (c.visible + c.inFlight > 0 && Date.now() < deadline) {
    await sleep(50);
    c = await counts(QueueUrl);
  }
  return c;
}

async function sendAll(QueueUrl, bodies, extra = () => ({})) {
  for (let i = 0; i < bodies.length; i += 10) {
    const Entries = bodies.slice(i, i + 10).map((b, j) => ({ Id: `e${j}`, MessageBody: b, ...extra(i + j) }));
    const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries }));
    assert.equal(out.Failed?.length ?? 0, 0, JSON.stringify(out.Failed));
  }
}

// Runs a consumer until done() says so or the deadline passes; returns the
// errors it emitted. Stops the consumer and waits for its last poll.
async function runUntil(consumer, done, ms) {
  const errors = [];
  consumer.on("error", (e) => errors.push(e));
  consumer.start();
  const deadline = Date.now() + ms;
  while (!(await done()) && Date.now() < deadline) {
    await sleep(50);
  }
  consumer.stop();
  await new Promise((resolve) => {
    if (!consumer.status.isRunning) resolve();
    else consumer.once("stopped", resolve);
  });
  return errors;
}

test("a consumer drains a standard queue and deletes every message it handled", async () => {
  const QueueUrl = await createQueue(unique("consume"));
  const bodies = Array.from({ length: 150 }, (_, i) => `job-${i}`);
  await sendAll(QueueUrl, bodies);
  const seen = new Map();
  const consumer = Consumer.create({
    queueUrl: QueueUrl,
    sqs,
    batchSize: 10,
    waitTimeSeconds: 1,
    messageAttributeNames: ["All"],
    handleMessage: async (m) => {
      seen.set(m.Body, (seen.get(m.Body) ?? 0) + 1);
      return m;
    },
  });
  const errors = await runUntil(consumer, () => seen.size === bodies.length, 20000);
  assert.deepEqual(errors, []);
  assert.deepEqual([...seen.keys()].sort(), [...bodies].sort());
  assert.ok([...seen.values()].every((n) => n === 1), "a message was handled twice");
  // Every handled message was deleted: nothing is left visible or in flight.
  const c = await settled(QueueUrl);
  assert.equal(c.visible, 0);
  assert.equal(c.inFlight, 0);
});

test("a long poll hands a message sent later to a waiting consumer", async () => {
  const QueueUrl = await createQueue(unique("wake"));
  let got = null;
  const consumer = Consumer.create({
    queueUrl: QueueUrl,
    sqs,
    waitTimeSeconds: 10,
    handleMessage: async (m) => { got = { body: m.Body, at: Date.now() }; return m; },
  });
  consumer.start();
  await sleep(500); // the consumer is now inside its 10 s long poll
  const sentAt = Date.now();
  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "late" }));
  const errors = await runUntil(consumer, () => got !== null, 8000);
  assert.deepEqual(errors, []);
  assert.equal(got?.body, "late");
  assert.ok(got.at - sentAt < 5000, `received ${got.at - sentAt} ms after the send`);
});

test("heartbeats keep a slow message invisible, so it is handled once", async () => {
  const QueueUrl = await createQueue(unique("heartbeat"), { VisibilityTimeout: "2" });
  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "slow" }));
  let calls = 0;
  let finished = false;
  const consumer = Consumer.create({
    queueUrl: QueueUrl,
    sqs,
    waitTimeSeconds: 1,
    visibilityTimeout: 2,
    heartbeatInterval: 1,
    handleMessage: async (m) => {
      calls += 1;
      await sleep(4500); // more than twice the visibility timeout
      finished = true;
      return m;
    },
  });
  const errors = await runUntil(consumer, () => finished, 15000);
  assert.deepEqual(errors, []);
  assert.equal(calls, 1);
  // Had a heartbeat failed, the message would be visible again by now.
  const stolen = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }));
  assert.equal(stolen.Messages?.length ?? 0, 0);
  const c = await settled(QueueUrl);
  assert.equal(c.visible + c.inFlight, 0);
});

test("a failing handler releases the message at once, and the DLQ takes it after maxReceiveCount", async () => {
  const dlq = await createQueue(unique("consume-dlq"));
  const dlqArn = (await counts(dlq)).arn;
  const QueueUrl = await createQueue(unique("consume-src"), {
    VisibilityTimeout: "30",
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 3 }),
  });
  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: "poison" }));
  const receiveCounts = [];
  const processingErrors = [];
  const consumer = Consumer.create({
    queueUrl: QueueUrl,
    sqs,
    waitTimeSeconds: 1,
    attributeNames: ["ApproximateReceiveCount"],
    terminateVisibilityTimeout: true, // ChangeMessageVisibility to 0 on failure
    handleMessage: async (m) => {
      receiveCounts.push(Number(m.Attributes.ApproximateReceiveCount));
      throw new Error("cannot process");
    },
  });
  consumer.on("processing_error", (e) => processingErrors.push(e));
  // With a 30 s visibility timeout, three receives within a few seconds are
  // only possible if each failure really set the visibility back to 0.
  const moved = async () => receiveCounts.length >= 3 && (await counts(dlq)).visible === 1;
  const errors = await runUntil(consumer, moved, 15000);
  assert.deepEqual(errors, []);
  // The fourth receive moved it to the DLQ instead of handing it over.
  assert.deepEqual(receiveCounts, [1, 2, 3]);
  assert.equal(processingErrors.length, 3);
  assert.equal((await counts(dlq)).visible, 1);
  const src = await settled(QueueUrl);
  assert.equal(src.visible + src.inFlight, 0);
});

test("a FIFO consumer gets each group's messages in order, in batches", async () => {
  const QueueUrl = await createQueue(unique("consume") + ".fifo", {
    FifoQueue: "true", ContentBasedDeduplication: "true",
  });
  const groups = ["a", "b", "c"];
  const bodies = [];
  for (let i = 0; i < 60; i++) bodies.push(`${groups[i % 3]}:${Math.floor(i / 3)}`);
  await sendAll(QueueUrl, bodies, (i) => ({ MessageGroupId: groups[i % 3] }));
  const order = { a: [], b: [], c: [] };
  let handled = 0;
  const consumer = Consumer.create({
    queueUrl: QueueUrl,
    sqs,
    batchSize: 10,
    waitTimeSeconds: 1,
    attributeNames: ["MessageGroupId"],
    suppressFifoWarning: true,
    handleMessageBatch: async (ms) => {
      for (const m of ms) {
        const [g, n] = m.Body.split(":");
        assert.equal(m.Attributes.MessageGroupId, g);
        order[g].push(Number(n));
      }
      handled += ms.length;
      return ms;
    },
  });
  const errors = await runUntil(consumer, () => handled >= bodies.length, 20000);
  assert.deepEqual(errors, []);
  for (const g of groups) {
    assert.deepEqual(order[g], Array.from({ length: 20 }, (_, i) => i), `group ${g}`);
  }
  const c = await settled(QueueUrl);
  assert.equal(c.visible + c.inFlight, 0);
});
