// SNS signatures checked by AWS's own validator, the npm sns-validator: it
// fetches the certificate from SigningCertURL (https only, so sluice runs
// with --public-url pointing at the https front this script starts, which
// passes GETs on to sluice) and verifies SignatureVersion 1 and 2 messages
// that sluice delivered to an SQS queue. A changed message is refused.
//
// Run by tests/integration/test_sns_js.py, which makes the front's TLS key
// and certificate (SNS_FRONT_KEY, SNS_FRONT_CERT, trusted through
// NODE_EXTRA_CA_CERTS) and picks its port (SNS_FRONT_PORT).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import https from "node:https";
import { createRequire } from "node:module";
import {
  SNSClient, CreateTopicCommand, SubscribeCommand, PublishCommand,
} from "@aws-sdk/client-sns";
import {
  SQSClient, CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";

const MessageValidator = createRequire(import.meta.url)("sns-validator");

const endpoint = process.env.SLUICE_ENDPOINT;
const port = Number(process.env.SNS_FRONT_PORT);
if (!endpoint || !port) {
  throw new Error("SLUICE_ENDPOINT and SNS_FRONT_PORT must be set");
}
const conf = {
  endpoint, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId: "AKID", secretAccessKey: "secret" },
};
const sns = new SNSClient(conf);
const sqs = new SQSClient(conf);

let front;
before(async () => {
  front = https.createServer({
    key: readFileSync(process.env.SNS_FRONT_KEY),
    cert: readFileSync(process.env.SNS_FRONT_CERT),
  }, async (req, res) => {
    const r = await fetch(endpoint + req.url);
    res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "text/plain" });
    res.end(Buffer.from(await r.arrayBuffer()));
  });
  await new Promise((ok) => front.listen(port, "127.0.0.1", ok));
});
after(() => {
  front.close();
  sns.destroy();
  sqs.destroy();
});

const validator = new MessageValidator(/^127\.0\.0\.1:\d+$/);
const validate = (msg) => new Promise((ok, fail) =>
  validator.validate(msg, (err, m) => (err ? fail(err) : ok(m))));

for (const version of ["1", "2"]) {
  test(`SignatureVersion ${version} verifies with sns-validator`, async () => {
    const name = `jsig-${version}-${randomUUID().slice(0, 8)}`;
    const { TopicArn } = await sns.send(new CreateTopicCommand({
      Name: name, Attributes: { SignatureVersion: version },
    }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    const attrs = await sqs.send(new GetQueueAttributesCommand({
      QueueUrl, AttributeNames: ["QueueArn"],
    }));
    await sns.send(new SubscribeCommand({
      TopicArn, Protocol: "sqs", Endpoint: attrs.Attributes.QueueArn,
    }));
    await sns.send(new PublishCommand({ TopicArn, Message: "zürich\nline 2", Subject: "S" }));
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5 }));
    assert.equal(out.Messages?.length, 1);
    const env = JSON.parse(out.Messages[0].Body);
    assert.equal(env.SignatureVersion, version);
    assert.ok(env.SigningCertURL.startsWith(`https://127.0.0.1:${port}/`));
    const ok = await validate(env);
    assert.equal(ok.Message, "zürich\nline 2");
    await assert.rejects(validate({ ...env, Message: "forged" }), /signature is invalid/);
    await assert.rejects(validate({ ...env, Subject: "other" }), /signature is invalid/);
  });
}
