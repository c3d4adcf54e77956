// SNS with the AWS SDK for JavaScript v3 (@aws-sdk/client-sns, query
// protocol) in its default configuration: topics, an SQS subscription,
// Publish and PublishBatch reaching the queue, and the SDK's typed errors.
//
// Run: SLUICE_ENDPOINT=http://127.0.0.1:4566 node --test test_sns_sdk.mjs
// (tests/integration/test_sns_js.py does this against a fresh sluice).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import {
  SNSClient,
  CreateTopicCommand,
  GetTopicAttributesCommand,
  ListTopicsCommand,
  SubscribeCommand,
  ListSubscriptionsByTopicCommand,
  PublishCommand,
  PublishBatchCommand,
  DeleteTopicCommand,
  NotFoundException,
  InvalidParameterException,
} from "@aws-sdk/client-sns";
import {
  SQSClient,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";

const endpoint = process.env.SLUICE_ENDPOINT;
if (!endpoint) {
  throw new Error("SLUICE_ENDPOINT is not set");
}
const conf = {
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKID", secretAccessKey: "secret" },
  maxAttempts: 1,
};
const sns = new SNSClient(conf);
const sqs = new SQSClient(conf);
after(() => {
  sns.destroy();
  sqs.destroy();
});

const name = `js-${randomUUID().slice(0, 12)}`;

async function receiveAll(QueueUrl, n) {
  const got = [];
  for (let i = 0; i < 10 && got.length < n; i++) {
    const out = await sqs.send(new ReceiveMessageCommand({
      QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: ["All"],
    }));
    got.push(...(out.Messages ?? []));
  }
  return got;
}

test("topic, subscription, publish and batch reach the queue", async () => {
  const { TopicArn } = await sns.send(new CreateTopicCommand({
    Name: name, Attributes: { DisplayName: "js" }, Tags: [{ Key: "k", Value: "v" }],
  }));
  assert.equal(TopicArn, `arn:aws:sns:us-east-1:000000000000:${name}`);
  const attrs = await sns.send(new GetTopicAttributesCommand({ TopicArn }));
  assert.equal(attrs.Attributes.DisplayName, "js");
  const topics = await sns.send(new ListTopicsCommand({}));
  assert.ok(topics.Topics.some((t) => t.TopicArn === TopicArn));

  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const qa = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }));
  const { SubscriptionArn } = await sns.send(new SubscribeCommand({
    TopicArn, Protocol: "sqs", Endpoint: qa.Attributes.QueueArn,
    Attributes: { RawMessageDelivery: "true" }, ReturnSubscriptionArn: true,
  }));
  const subs = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn }));
  assert.deepEqual(subs.Subscriptions.map((s) => s.SubscriptionArn), [SubscriptionArn]);

  const pub = await sns.send(new PublishCommand({
    TopicArn, Message: "from js", MessageAttributes: { a: { DataType: "String", StringValue: "b" } },
  }));
  assert.match(pub.MessageId, /^[0-9a-f-]{36}$/);
  const batch = await sns.send(new PublishBatchCommand({
    TopicArn,
    PublishBatchRequestEntries: [{ Id: "one", Message: "b1" }, { Id: "two", Message: "b2" }],
  }));
  assert.deepEqual(batch.Successful.map((s) => s.Id).sort(), ["one", "two"]);
  assert.equal((batch.Failed ?? []).length, 0);

  const got = await receiveAll(QueueUrl, 3);
  assert.deepEqual(got.map((m) => m.Body).sort(), ["b1", "b2", "from js"]);
  const first = got.find((m) => m.Body === "from js");
  assert.equal(first.MessageAttributes.a.StringValue, "b");
  await sns.send(new DeleteTopicCommand({ TopicArn }));
});

test("errors are the SDK's typed exceptions", async () => {
  await assert.rejects(
    sns.send(new PublishCommand({ TopicArn: `arn:aws:sns:us-east-1:000000000000:${name}-none`, Message: "m" })),
    (e) => e instanceof NotFoundException && e.$metadata.httpStatusCode === 404,
  );
  await assert.rejects(
    sns.send(new CreateTopicCommand({ Name: "has space" })),
    (e) => e instanceof InvalidParameterException && e.$metadata.httpStatusCode === 400,
  );
});
