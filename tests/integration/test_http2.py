"""HTTP/2 (cleartext, prior knowledge) edge cases, driven by Node's built-in
http2 module: many streams on one session, a stream reset in the middle of
its body, a session dropped with requests open, and a body larger than the
default flow-control window. The server must answer what it should and stay
healthy (and leak nothing: the ASan run checks that at shutdown)."""

import json
import shutil
import subprocess
import textwrap
import unittest

import harness
from harness import unique_name

NODE_SCRIPT = textwrap.dedent(r'''
    const http2 = require("http2");
    const [endpoint, stream] = process.argv.slice(1);
    const headers = (op) => ({
      ":method": "POST", ":path": "/", "content-type": "application/x-amz-json-1.1",
      "x-amz-target": "Kinesis_20131202." + op,
      "authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, SignedHeaders=host, Signature=0",
    });
    function call(session, op, body) {
      return new Promise((resolve, reject) => {
        const req = session.request(headers(op));
        let status = 0, data = "";
        req.on("response", (h) => { status = h[":status"]; });
        req.setEncoding("utf8");
        req.on("data", (c) => { data += c; });
        req.on("end", () => resolve({ status, body: data ? JSON.parse(data) : {} }));
        req.on("error", reject);
        req.end(JSON.stringify(body));
      });
    }
    function fail(msg) { console.error(msg); process.exit(1); }
    (async () => {
      const s1 = http2.connect(endpoint);
      // 64 PutRecord calls in parallel on one session: more streams than
      // SETTINGS_MAX_CONCURRENT_STREAMS lets run at once would be queued.
      const puts = [];
      for (let i = 0; i < 64; i++)
        puts.push(call(s1, "PutRecord", { StreamName: stream, PartitionKey: "p" + i,
                                          Data: Buffer.from("r" + i).toString("base64") }));
      const res = await Promise.all(puts);
      const seqs = new Set(res.map((r) => r.body.SequenceNumber));
      if (res.some((r) => r.status !== 200) || seqs.size !== 64) fail("parallel puts: " + JSON.stringify(res[0]));
      // A body far over the 64 KiB default window.
      const big = Buffer.alloc(900 * 1024, 7).toString("base64");
      const r = await call(s1, "PutRecord", { StreamName: stream, PartitionKey: "big", Data: big });
      if (r.status !== 200) fail("big put: " + JSON.stringify(r));
      // A stream reset halfway through its body; the session goes on.
      const half = s1.request(headers("PutRecord"));
      half.on("error", () => {});
      half.write('{"StreamName": "' + stream + '", "Partit');
      half.close(http2.constants.NGHTTP2_CANCEL);
      const after = await call(s1, "DescribeStreamSummary", { StreamName: stream });
      if (after.status !== 200) fail("after reset: " + JSON.stringify(after));
      // An error reply in JSON with __type, on the same session.
      const nf = await call(s1, "DescribeStreamSummary", { StreamName: stream + "-nope" });
      if (nf.status !== 400 || nf.body.__type !== "ResourceNotFoundException") fail("not found: " + JSON.stringify(nf));
      s1.close();
      // A session dropped with a request half sent and one waiting.
      const s2 = http2.connect(endpoint);
      const open = s2.request(headers("PutRecords"));
      open.on("error", () => {});
      open.write('{"StreamName": "' + stream + '", "Records": [');
      call(s2, "DescribeLimits", {}).catch(() => {});
      await new Promise((ok) => setTimeout(ok, 100));
      s2.destroy();
      // The server still answers a fresh session.
      const s3 = http2.connect(endpoint);
      const lim = await call(s3, "DescribeLimits", {});
      if (lim.status !== 200 || !lim.body.ShardLimit) fail("fresh session: " + JSON.stringify(lim));
      s3.close();
      console.log("h2-ok " + seqs.size);
    })().catch((e) => fail(String(e)));
''')


@unittest.skipUnless(shutil.which("node"), "node is not installed")
class Http2Test(harness.KinesisTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.server_for_class(cls)
        cls.c = cls.server.client()
        cls.stream = unique_name("h2")
        harness.create_stream(cls.c, cls.stream, shards=2)

    def test_streams_resets_drops_and_flow_control(self):
        r = subprocess.run(["node", "-e", NODE_SCRIPT, self.server.endpoint, self.stream],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("h2-ok 64", r.stdout)
        # Everything acknowledged over HTTP/2 is readable over HTTP/1.1.
        total = 0
        for s in harness.list_all_shards(self.c, self.stream):
            recs, _ = harness.read_shard(self.c, s["ShardId"], name=self.stream)
            total += len(recs)
            for rec in recs:
                if rec["PartitionKey"] == "big":
                    self.assertEqual(rec["Data"], bytes([7]) * (900 * 1024))
        self.assertEqual(total, 65)
        health = json.loads(self.server.raw_request("GET", "/health")[1])
        self.assertEqual(health["status"], "ok")


if __name__ == "__main__":
    unittest.main()
