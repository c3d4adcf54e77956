// SQS queues with the AWS SDK for JavaScript v3 (@aws-sdk/client-sqs) in its
// default configuration: JSON 1.0 with the awsQueryCompatible error codes.
//
// Run: SLUICE_ENDPOINT=http://127.0.0.1:4566 node --test test_sqs_sdk.mjs
// (tests/integration/test_sqs_js.py does this against a fresh sluice).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  SQSClient,
  CreateQueueCommand,
  GetQueueUrlCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  ListQueuesCommand,
  TagQueueCommand,
  ListQueueTagsCommand,
  DeleteQueueCommand,
} from "@aws-sdk/client-sqs";

const endpoint = process.env.SLUICE_ENDPOINT;
if (!endpoint) {
  throw new Error("SLUICE_ENDPOINT is not set");
}

const client = new SQSClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKID", secretAccessKey: "secret" },
  maxAttempts: 1,
});
after(() => client.destroy());

const name = `js-${randomUUID().slice(0, 12)}`;

test("queue lifecycle", async () => {
  const { QueueUrl } = await client.send(new CreateQueueCommand({
    QueueName: name,
    Attributes: { DelaySeconds: "2", VisibilityTimeout: "50" },
    tags: { team: "js" },
  }));
  assert.equal(QueueUrl, `${endpoint}/000000000000/${name}`);
  assert.equal((await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl, QueueUrl);
  const { Attributes } = await client.send(new GetQueueAttributesCommand({
    QueueUrl, AttributeNames: ["All"],
  }));
  assert.equal(Attributes.DelaySeconds, "2");
  assert.equal(Attributes.VisibilityTimeout, "50");
  assert.equal(Attributes.QueueArn, `arn:aws:sqs:us-east-1:000000000000:${name}`);
  await client.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { DelaySeconds: "7" } }));
  const again = await client.send(new GetQueueAttributesCommand({
    QueueUrl, AttributeNames: ["DelaySeconds"],
  }));
  assert.deepEqual(again.Attributes, { DelaySeconds: "7" });
  const listed = await client.send(new ListQueuesCommand({ QueueNamePrefix: name }));
  assert.deepEqual(listed.QueueUrls, [QueueUrl]);
  await client.send(new TagQueueCommand({ QueueUrl, Tags: { env: "test" } }));
  const tags = await client.send(new ListQueueTagsCommand({ QueueUrl }));
  assert.deepEqual(tags.Tags, { team: "js", env: "test" });
  await client.send(new DeleteQueueCommand({ QueueUrl }));
});

test("errors carry SQS's codes", async () => {
  await assert.rejects(
    client.send(new GetQueueUrlCommand({ QueueName: `${name}-none` })),
    (err) => {
      assert.equal(err.$metadata.httpStatusCode, 400);
      assert.equal(err.name, "QueueDoesNotExist");
      return true;
    });
  await client.send(new CreateQueueCommand({ QueueName: `${name}-x` }));
  await assert.rejects(
    client.send(new CreateQueueCommand({
      QueueName: `${name}-x`, Attributes: { DelaySeconds: "9" },
    })),
    (err) => {
      assert.equal(err.name, "QueueNameExists");
      return true;
    });
  await assert.rejects(
    client.send(new SetQueueAttributesCommand({
      QueueUrl: `${endpoint}/000000000000/${name}-x`, Attributes: { DelaySeconds: "901" },
    })),
    (err) => {
      assert.equal(err.name, "InvalidAttributeValue");
      return true;
    });
});
