/* limits.h - every cap of the runtime in one place, with why and what it costs.
 *
 * AWS limits come from the service documentation and the botocore models;
 * sizing limits are ours. Changing one here changes it everywhere.
 */
#ifndef SL_LIMITS_H
#define SL_LIMITS_H

#include <stdint.h> /* the uint64_t of some caps */

/* ---- Runtime sizing ---------------------------------------------------- */

/* Worker threads. One per core; 64 covers the largest machines we target and
 * keeps per-worker arrays (rings, seen generations) small and static. */
#define SL_WORKERS_MAX 64

/* Messages in flight to one worker (or to the control thread) from all
 * others. A full ring is back-pressure: the sender keeps the message and
 * retries on its next loop iteration. Power of two for rte_ring. */
#define SL_RING_SLOTS 16384

/* Messages drained from the inbound ring per burst, and bursts per loop
 * iteration: bounds the time one iteration spends on other cores' work. */
#define SL_MSG_BURST 64
#define SL_MSG_BURSTS_PER_LOOP 16
/* Seconds a stopping worker keeps serving in-flight requests, flushes and
 * replies before it gives up on them. */
#define SL_STOP_DRAIN_S 10
/* A failed group-commit flush (or journal batch) is written again after
 * this, not at once: a failing disk must not spin the worker. */
#define SL_FLUSH_RETRY_MS 1000

/* Connections one worker serves at once; beyond this, accepts are closed
 * at once. Each costs a conn struct plus its read buffer. */
#define SL_CONNS_PER_WORKER_MAX 8192

/* io_uring submission queue depth per worker. Completions are reaped every
 * loop iteration; SQ full is handled by submitting and retrying. */
#define SL_URING_ENTRIES 4096

/* First read buffer of a connection, and the largest request body accepted
 * (PutRecords is at most 5 MiB of data, which is ~6.7 MiB as base64 JSON). */
#define SL_CONN_RBUF_INIT (64 * 1024)
#define SL_HTTP_BODY_MAX (16 * 1024 * 1024)
/* Headers per request, and bytes of a request head (request line and
 * headers; for HTTP/2 the decoded header list, SETTINGS_MAX_HEADER_LIST_SIZE).
 * Past either the request is refused with 431, never truncated. AWS SDKs
 * send about 12 headers; 64 leaves room for proxies and custom x-amz-meta. */
#define SL_HTTP_HEADERS_MAX 64
#define SL_HTTP_HEAD_MAX (64 * 1024)
/* Labels in a REST path template (/{A}/{B}/...): X-Ray and Logs use two. */
#define SL_REST_LABELS_MAX 8
/* Digits of a Content-Length: 2^64 has 20; a longer one is refused (400),
 * never read as a smaller number. */
#define SL_HTTP_CLEN_DIGITS_MAX 19

/* Output buffer a connection starts with (it doubles as replies need). */
#define SL_OBUF_INIT 16384
/* Idle requests kept per worker, and the largest buffers they may keep:
 * bigger ones (a 10 MiB GetRecords reply) go back to the allocator. */
#define SL_REQ_POOL_MAX 1024
#define SL_REQ_KEEP_BYTES (256 * 1024)
/* nghttp2 frames moved out per pump: more than a full window of replies,
 * so one call always empties nghttp2's queue in practice. */
#define SL_H2_SEND_ROUNDS 4096
/* Reply headers besides the status: content type and length, request id,
 * error type, protocol markers, CORS (a preflight has the most: 9). */
#define SL_REPLY_HDRS_MAX 12
/* The kernel's queue of connections not yet accepted, per worker. */
#define SL_LISTEN_BACKLOG 1024

/* Pipelined HTTP/1.1 requests one connection may have in flight at once;
 * replies still go out in request order. */
#define SL_H1_PIPELINE_MAX 32

/* Concurrent HTTP/2 streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
#define SL_H2_STREAMS_MAX 128
/* HTTP/2 flow-control windows we grant: a whole PutRecords body (up to ~7 MiB
 * of base64 JSON) per stream without a WINDOW_UPDATE round trip, and several
 * such streams per connection. What they cost is buffered request bytes. */
#define SL_H2_STREAM_WINDOW (16u << 20)
#define SL_H2_CONN_WINDOW (64 << 20)

/* Pairs in one query-protocol form: SQS SendMessageBatch with 10 entries of
 * 10 attributes is about 500; CloudWatch PutMetricData with 1,000 metrics
 * of a few fields each needs several thousand. 16 bytes each per thread. */
#define SL_QUERY_PAIRS_MAX 16384

/* JSON/CBOR tokens per request: PutRecords with 500 entries of 3 fields
 * needs ~3,500; 65,536 leaves room for tags and lists. 2 MiB per worker. */
#define SL_DOC_TOKS_MAX 65536

/* ---- Storage ------------------------------------------------------------ */

/* Segment files are preallocated at this size (LAB.md: preallocation is what
 * makes appends fast) and rolled when full. */
#define SL_SEGMENT_BYTES_DEFAULT (64ull * 1024 * 1024)
#define SL_SEGMENT_BYTES_MIN (4ull * 1024 * 1024)

/* Segment files grow by this much at a time, kept at least half a step
 * ahead of the writes: appends still land in allocated space, and an idle
 * shard costs 4 MiB of disk instead of a whole segment. */
#define SL_PREALLOC_STEP (4ull * 1024 * 1024)
/* Ours: logs the control thread made ahead for new objects (a queue's
 * partitions) that no owner has written yet; past it a new object's logs
 * are made at their first write instead. */
#define SL_LOGS_PREMADE_MAX 65536

/* The per-worker commit journal (sync durability): two files of this size
 * used in turn, allocated once (128 MiB of disk per worker). A file must
 * hold the largest batch; the larger it is, the rarer checkpoints are. */
#define SL_JOURNAL_FILE_BYTES (64ull * 1024 * 1024)
/* --journal-mb bounds: the batches in flight must fit one file; 16 GiB is
 * far past any useful checkpoint interval. */
#define SL_JOURNAL_FILE_BYTES_MIN (SL_JOURNAL_INFLIGHT_MAX * (uint64_t)SL_JOURNAL_BATCH_MAX)
#define SL_JOURNAL_FILE_BYTES_MAX (16ull << 30)
/* One batch (one write and one fdatasync) holds up to this many bytes of
 * entries; its buffers start small and double. */
#define SL_JOURNAL_BATCH_INIT (256u * 1024)
#define SL_JOURNAL_BATCH_MAX (32u * 1024 * 1024)
/* Journal batches in flight at once: a request that arrives while one
 * batch syncs rides the next one at once instead of waiting for it. */
#define SL_JOURNAL_INFLIGHT_MAX 2
/* Flushes of one shard log that are written but wait for their journal
 * batch: as many as batches in flight, so a busy shard pipelines too. */
#define SL_HELD_FLUSHES_MAX SL_JOURNAL_INFLIGHT_MAX

/* A shard log's staging buffer: what one flush writes. It starts small and
 * doubles under load up to the cap; a full one is back-pressure
 * (ProvisionedThroughputExceededException for the record). */
#define SL_STAGE_INIT (64u << 10)
#define SL_STAGE_MAX (16u << 20)
/* Housekeeping ticks a log must stay idle before its grown staging buffers
 * are given back: a burst's memory does not stay pinned for ever, and a
 * steady load does not reallocate at every lull. */
#define SL_STAGE_TRIM_TICKS 5
/* Segment files one shard log may have: a listing past it is an error at
 * recovery, never a silently shorter log. */
#define SL_SEGS_MAX 65536
/* Sealed segments of one log that keep their fd open while no cursor reads
 * them (the newest ones, where recent reads land). Older ones are closed
 * and opened again by the read that reaches them, so that a log holds at
 * most this many fds plus its newest segment and one per cursor, whatever
 * it retains. */
#define SL_LOG_SEALED_FDS_KEEP 1

/* One sparse index entry per this many records: 32 records of scan at most
 * per lookup, 24 bytes of memory per 32 records. */
#define SL_INDEX_STRIDE 32

/* Bytes read from a segment per pread when scanning for GetRecords. */
#define SL_READ_CHUNK (128 * 1024)

/* The largest key and data of one segment-log frame (the storage layer's
 * own limits; every engine's records must fit). */
#define SL_LOG_KEY_MAX 1024
#define SL_LOG_DATA_MAX (1024 * 1024)

/* A log's service-private state in its sl_wlog (Kinesis: 48 bytes of
 * throughput windows). */
#define SL_WLOG_SVC_BYTES 64
/* The directory under --data-dir holding every log (logs/<uid>/<ordinal>). */
#define SL_LOGS_DIR "logs"

/* ---- Control thread ------------------------------------------------------ */

/* A region name (from the SigV4 scope or the configuration). */
#define SL_REGION_MAX 31
/* Distinct regions that may hold streams: the region comes from the
 * client's credential scope, so without a cap a client could make the
 * per-region counters (and their linear lookup) grow with every name it
 * invents. AWS has about 35 regions. */
#define SL_REGIONS_MAX 64
/* The largest legacy catalog.json a start-up migrates. */
#define SL_CATALOG_FILE_MAX (256u << 20)
/* One catalog record (an object as its type encodes it): a stream with
 * 10,000 shards and 50 tags is under 1 MiB. */
#define SL_CATALOG_RECORD_MAX (64u << 20)
/* The catalog log is replaced by a snapshot once it is larger than the last
 * snapshot and than this. */
#define SL_CATALOG_SNAP_MIN_BYTES (8u << 20)
/* The snapshot writer's buffer. */
#define SL_CATALOG_SNAP_CHUNK (1u << 20)
/* The generic catalog resource (tests and benchmarks create it). */
#define SL_BLOB_NAME_MAX 255
#define SL_BLOB_DATA_MAX 4096

/* ---- Kinesis (AWS documented limits) ------------------------------------ */
#define SL_KIN_DATA_MAX (1024 * 1024)           /* one record's data blob */
#define SL_KIN_PK_MAX 256                       /* partition key characters */
#define SL_KIN_NAME_MAX 128                     /* stream name */
#define SL_KIN_PUT_RECORDS_MAX 500              /* entries per PutRecords */
#define SL_KIN_PUT_RECORDS_BYTES_MAX (5 * 1024 * 1024) /* data + keys per PutRecords */
#define SL_KIN_GET_LIMIT_MAX 10000              /* GetRecords Limit */
#define SL_KIN_GET_BYTES_MAX (10 * 1024 * 1024) /* GetRecords reply data */
#define SL_KIN_ITERATOR_TTL_MS (5 * 60 * 1000)  /* shard iterators expire */
#define SL_KIN_NEXT_TOKEN_TTL_MS (5 * 60 * 1000) /* ListShards NextToken expires */
#define SL_KIN_RETENTION_MIN_H 24
#define SL_KIN_RETENTION_MAX_H 8760
#define SL_KIN_SHARD_LIMIT 20000                /* DescribeLimits ShardLimit (ours) */
#define SL_KIN_SHARDS_PER_STREAM_MAX 10000
#define SL_KIN_ON_DEMAND_STREAMS_MAX 50
#define SL_KIN_ON_DEMAND_SHARDS 4               /* shards of a new ON_DEMAND stream */
#define SL_KIN_TAGS_MAX 50
#define SL_KIN_TAG_KEY_MAX 128
#define SL_KIN_TAG_VALUE_MAX 256
#define SL_KIN_KEY_ID_MAX 2048
#define SL_KIN_ARN_MAX 2048                     /* StreamARN as a request may send it */
/* Per-shard throughput, enforced with --shard-limits. */
#define SL_KIN_SHARD_IN_BYTES_PER_S (1024 * 1024)
#define SL_KIN_SHARD_IN_RECORDS_PER_S 1000
#define SL_KIN_SHARD_OUT_BYTES_PER_S (2 * 1024 * 1024)
#define SL_KIN_SHARD_OUT_CALLS_PER_S 5
/* How long a receiver waits for a reshard to be published (the control
 * thread persists the catalog first) before it answers InternalFailure for
 * the records caught in it, and how many rounds of re-routing one request
 * may take when shards keep closing. The wait re-checks once per loop
 * iteration, so the worker does not sleep meanwhile. */
#define SL_REROUTE_WAIT_MS 1000
#define SL_REROUTE_ROUNDS_MAX 8

/* Log lines: the longest line, and each half of a worker's log buffer.
 * A worker collects up to this much between two io_uring writes; past it
 * lines are dropped and counted rather than blocking the worker. */
#define SL_LOG_LINE_MAX 1024
#define SL_LOG_BUF_BYTES (64 * 1024)

/* Memory EAL takes without hugepages (--no-huge -m), and the free hugepages
 * below which sluice does not use them (rings and pools need far less). */
#define SL_EAL_NO_HUGE_MB "512"
#define SL_HUGEPAGES_MIN_FREE 64

/* ---- SQS (AWS documented limits) ---------------------------------------- */
#define SL_SQS_NAME_MAX 80                /* queue name, with .fifo */
#define SL_SQS_DELAY_MAX_S 900            /* DelaySeconds */
#define SL_SQS_MSG_SIZE_MIN 1024          /* MaximumMessageSize */
#define SL_SQS_MSG_SIZE_MAX (1024 * 1024)
#define SL_SQS_RETENTION_MIN_S 60         /* MessageRetentionPeriod */
#define SL_SQS_RETENTION_MAX_S 1209600
#define SL_SQS_RETENTION_DEFAULT_S 345600
#define SL_SQS_VISIBILITY_MAX_S 43200     /* VisibilityTimeout */
#define SL_SQS_VISIBILITY_DEFAULT_S 30
#define SL_SQS_WAIT_MAX_S 20              /* ReceiveMessageWaitTimeSeconds */
#define SL_SQS_KMS_REUSE_MIN_S 60         /* KmsDataKeyReusePeriodSeconds */
#define SL_SQS_KMS_REUSE_MAX_S 86400
#define SL_SQS_KMS_REUSE_DEFAULT_S 300
#define SL_SQS_KMS_KEY_MAX 2048           /* KmsMasterKeyId: an id, alias or ARN */
#define SL_SQS_POLICY_MAX (20 * 1024)     /* Policy */
#define SL_SQS_REDRIVE_MAX 4096           /* RedrivePolicy, RedriveAllowPolicy */
#define SL_SQS_MAX_RECEIVE_MAX 1000       /* RedrivePolicy maxReceiveCount */
#define SL_SQS_REDRIVE_SOURCES_MAX 10     /* RedriveAllowPolicy sourceQueueArns */
#define SL_SQS_TAGS_MAX 50
#define SL_SQS_TAG_KEY_MAX 128
#define SL_SQS_TAG_VALUE_MAX 256
#define SL_SQS_LIST_MAX 1000              /* ListQueues MaxResults, and its page without it */
#define SL_SQS_DELETED_RECENTLY_MS 60000  /* no CreateQueue of a deleted name meanwhile */
/* Ours: queues the server keeps (every region), and the deleted names it
 * remembers for QueueDeletedRecently (older ones are forgotten early). */
#define SL_SQS_QUEUES_MAX 1000000
#define SL_SQS_DELETED_TRACK_MAX 4096
/* A queue URL or ARN as a request may carry it. */
#define SL_SQS_URL_MAX 1024
#define SL_SQS_RECV_MAX 10                /* ReceiveMessage MaxNumberOfMessages */
#define SL_SQS_BATCH_MAX 10               /* entries per batch request */
/* Ours: dead-letter moves a worker has in flight (each holds a message's
 * copy); a message due to move is hidden this long, then moves on the next
 * receive if its move did not land. */
#define SL_SQS_MOVES_MAX 1024
/* Ours: compaction of a standard queue's log. Its front segment is
 * compacted when at most 1 in RATIO of its records is live; a partition
 * looks at CHUNK of its records per loop iteration while it compacts, and
 * keeps at most INFLIGHT copies under way. */
#define SL_SQS_COMPACT_RATIO 8
#define SL_SQS_COMPACT_CHUNK 1024
#define SL_SQS_COMPACT_INFLIGHT 16
/* Index slots a PurgeQueue sweeps per loop iteration on the owner. */
#define SL_SQS_PURGE_CHUNK 4096
#define SL_SQS_PURGE_INTERVAL_MS 60000    /* one PurgeQueue per queue per minute */
#define SL_SQS_MOVE_RETRY_MS 30000
#define SL_SQS_BATCH_ID_MAX 80            /* a batch entry's Id */
/* Ours: MessageAttributeNames one receive may list (a message has at most
 * 10 attributes; prefixes cover the rest). */
#define SL_SQS_RECV_NAMES_MAX 64
/* Messages in flight per queue, standard and FIFO (AWS: about 120,000),
 * split evenly over its partitions; a receive that finds a partition at
 * its share and no message elsewhere gets OverLimit. */
#define SL_SQS_INFLIGHT_MAX 120000
/* FIFO: the deduplication interval (AWS: 5 minutes), and ours: the sends a
 * partition remembers for it (about 72 bytes each). Past the cap a send
 * gets RequestThrottled until the oldest ones leave the window. */
#define SL_SQS_DEDUP_WINDOW_MS 300000
#define SL_SQS_DEDUP_MAX (1u << 21)
/* Ours: dedup entries past their window dropped per send, and per second
 * by the tick, so that expiry keeps up with any send rate. */
#define SL_SQS_DEDUP_EXPIRE_PER_SEND 4
#define SL_SQS_DEDUP_EXPIRE_CHUNK 65536
/* Ours: the partitions of one standard queue (each a log and an index on
 * its owner; --sqs-partitions, by default one per worker). A FIFO queue has
 * one. Masks of partitions are 32 bits wide. */
#define SL_SQS_PARTS_MAX 32
/* Ours: the waiting long polls one POKE brings from another partition of
 * the queue to the one with ready messages. */
#define SL_SQS_POKE_POLLS 64
/* Ours: queues whose counters each worker exports on /metrics (a slot per
 * partition it owns; partitions past it are served but not exported). */
#define SL_SQS_METRIC_QUEUES 4096
/* Message move tasks: the rate a task may ask for (AWS: 1..500 per
 * second), and ours: how often a task's owner moves the next messages,
 * the moves one task keeps in flight, how many messages a task without a
 * rate starts per round, and the tasks the server remembers (running or
 * not; ListMessageMoveTasks shows the newest of a queue). */
#define SL_SQS_TASK_RATE_MAX 500
#define SL_SQS_TASK_TICK_MS 20
#define SL_SQS_TASK_INFLIGHT 64
#define SL_SQS_TASK_CHUNK 64
#define SL_SQS_TASKS_MAX 256
/* FIFO ReceiveRequestAttemptId: how long a retry returns the same
 * messages (AWS: 5 minutes), and the attempts a partition remembers
 * (ours; the oldest is forgotten first). */
#define SL_SQS_ATTEMPT_WINDOW_MS 300000
#define SL_SQS_ATTEMPTS_MAX 4096

/* ---- SNS (AWS documented limits) ---------------------------------------- */
#define SL_SNS_TOPIC_NAME_MAX 256         /* topic name, with .fifo */
#define SL_SNS_MSG_MAX (256 * 1024)       /* Message plus attributes */
#define SL_SNS_SUBJECT_MAX 100
#define SL_SNS_ATTRS_MAX 10               /* message attributes delivered to SQS (AWS: 10) */
#define SL_SNS_TAGS_MAX 50
#define SL_SNS_TAG_KEY_MAX 128
#define SL_SNS_TAG_VALUE_MAX 256
#define SL_SNS_BATCH_MAX 10               /* PublishBatch entries */
#define SL_SNS_BATCH_ID_MAX 80
_Static_assert(SL_SNS_BATCH_ID_MAX == SL_SQS_BATCH_ID_MAX, "one batch id check serves both");
#define SL_SNS_LIST_PAGE 100              /* ListTopics, ListSubscriptions(ByTopic) pages */
#define SL_SNS_ATTR_VALUE_MAX (30 * 1024) /* a topic or subscription attribute (Policy: 30 KiB) */
/* Ours: attributes one topic or subscription record may hold (the
 * handlers know about 25 names; a decoded record holding more is refused). */
#define SL_SNS_OBJ_ATTRS_MAX 64
/* Ours: JSON tokens of a MessageStructure=json message (an object of one
 * string per protocol: 10 protocols are 21 tokens) and of a String.Array
 * attribute value (a flat array); past them the value is refused. */
#define SL_SNS_STRUCTURE_TOKS 64
#define SL_SNS_ARRAY_TOKS 256
#define SL_SNS_ENDPOINT_MAX 2048          /* a subscription's endpoint */
#define SL_SNS_ARN_MAX 1024               /* a topic or subscription ARN in a request */
#define SL_SNS_DEDUP_WINDOW_MS 300000     /* FIFO topics: 5 minutes */
/* Filter policies (AWS's documented limits): the text, the distinct keys,
 * the combinations of values (each key's conditions multiplied, "$or"
 * branches added), and the subscriptions of one topic that have one
 * (past it: FilterPolicyLimitExceeded). */
#define SL_SNS_FILTER_POLICY_MAX (256 * 1024)
#define SL_SNS_FILTER_KEYS_MAX 5
#define SL_SNS_FILTER_COMBOS_MAX 150
#define SL_SNS_FILTER_POLICIES_PER_TOPIC 200
/* Ours: the http deliverer (control/sns/http.c): deliveries it holds, and
 * their bytes (a publish past either is Throttled), its ring from the workers, attempts at
 * once, the time one attempt gets (connect, send, the status line), and
 * the outbox log's size past which it is rewritten with the live
 * deliveries only. */
#define SL_SNS_HTTP_PENDING_MAX 1000000
#define SL_SNS_HTTP_PENDING_BYTES (1ull << 30) /* their bytes, held in memory */
#define SL_SNS_HTTP_RING 16384
#define SL_SNS_HTTP_INFLIGHT 64
#define SL_SNS_HTTP_ATTEMPT_MS 15000
#define SL_SNS_HTTP_LOG_COMPACT (64 << 20)
/* Ours: the outbox of deliveries sluice does not carry (sms, mobile push,
 * email without --smtp): the records GET /_sluice/sns/outbox returns per
 * protocol (the latest; the files keep all), their bytes, and the tail of each file
 * read back at start-up. */
#define SL_SNS_OUTBOX_KEEP 10000
#define SL_SNS_OUTBOX_KEEP_BYTES (64 << 20) /* and at most these bytes of them */
#define SL_SNS_OUTBOX_REPLAY (8 << 20)
/* Ours: topics each writer (a worker, the deliverer) keeps /metrics
 * counters for; past it a topic's counts go to the server-wide series
 * only. */
#define SL_SNS_METRIC_TOPICS 4096
/* Ours: throttlePolicy budgets the deliverer keeps (subscriptions hash
 * into them; two in one slot share one budget). */
#define SL_SNS_THROTTLE_SLOTS 4096
/* Ours: stores into dead-letter queues the deliverer has on the way. */
#define SL_SNS_DLQ_INFLIGHT 64
/* Message signatures: the RSA key's size (AWS signs with 2048 bits; each
 * signature costs about 0.3 ms of a core, once per message and not per
 * subscription), and how long its self-signed certificate is valid. */
#define SL_SNS_SIGNING_KEY_BITS 2048
#define SL_SNS_SIGNING_CERT_DAYS 3650
/* Ours: Lambda functions mapped to URLs in the config (`lambda.NAME =
 * URL`), and the longest URL. AWS's function names are at most 64 bytes. */
#define SL_LAMBDA_MAPS_MAX 64
#define SL_LAMBDA_NAME_MAX 64
#define SL_LAMBDA_URL_MAX 512
/* Ours: accounts, and actions, one AddPermission may name. */
#define SL_SNS_PERMISSION_VALUES_MAX 100
/* Ours: topics and subscriptions the server keeps (AWS: 100,000 topics
 * per account, 12.5 million subscriptions per topic). Publish walks a
 * topic's subscriptions on the publishing worker, so the per-topic cap
 * bounds the work and memory one Publish can ask for. */
#define SL_SNS_TOPICS_MAX 100000
#define SL_SNS_SUBS_MAX 1000000
#define SL_SNS_SUBS_PER_TOPIC_MAX 1000
/* Ours: http(s) subscriptions an Unsubscribe ended that their
 * UnsubscribeConfirmation's SubscribeURL can still restore, held in memory
 * on the control thread for up to 3 days (AWS's confirmation tokens last
 * 3 days); past the cap the oldest offer lapses. */
#define SL_SNS_RESTORES_MAX 1024
#define SL_SNS_RESTORE_TTL_MS (3 * 86400 * 1000LL)
/* Ours: mobile push applications and their endpoints the server keeps
 * (CreatePlatformEndpoint finds a token among its application's endpoints
 * on the control thread: the per-application cap bounds that walk). */
#define SL_SNS_PLATFORM_APPS_MAX 1000
#define SL_SNS_ENDPOINTS_PER_APP_MAX 10000
#define SL_SNS_PLATFORM_NAME_MAX 256  /* an application's name (AWS) */
#define SL_SNS_PUSH_TOKEN_MAX 4096    /* a device token */
#define SL_SNS_CUSTOM_DATA_MAX 2048   /* an endpoint's CustomUserData (AWS) */
/* Ours: deliveries one worker has on the way into SQS queues (each holds
 * the message's copy until it is durable). A Publish that would go past
 * it is answered Throttled: back-pressure, not growth. */
#define SL_SNS_DELIVERIES_MAX 65536

/* ---- UDP ingest (docs/ingest-protocol.md) -------------------------------- */

/* Ours: each worker's idempotence windows. A producer's window covers the
 * SL_INGEST_WINDOW newest datagram numbers it sent there; a worker keeps
 * SL_INGEST_PRODUCERS_MAX producers and SL_INGEST_WINDOW_BYTES of windows and
 * kept acknowledgements, past which the producer heard from least recently
 * is forgotten (a later retransmission of its is stored again). */
#define SL_INGEST_WINDOW 1024
#define SL_INGEST_PRODUCERS_MAX 65536
#define SL_INGEST_WINDOW_BYTES (256ull * 1024 * 1024)
/* Ours: per worker, the receives kept armed (each holds a 64 KiB buffer),
 * the PUTs being stored at once and their bytes (past either: OVERLOADED),
 * and the socket's kernel receive buffer. */
#define SL_INGEST_RX_SLOTS 16
#define SL_INGEST_INFLIGHT_MAX 4096
#define SL_INGEST_INFLIGHT_BYTES (64ull * 1024 * 1024)
#define SL_INGEST_SOCKET_BUFFER (4 * 1024 * 1024)
/* Ours: producers in --ingest-keys, and a secret's bytes. */
#define SL_INGEST_KEYS_MAX 65536
#define SL_INGEST_KEY_MAX 64

/* ---- Timers ------------------------------------------------------------- */

/* Each worker's timer wheel (dataplane/runtime/timer.h) ticks in
 * milliseconds. A level has 64 slots so that its occupancy bitmap is one
 * uint64_t and the next busy slot is one rotate and one ctz away; slots of
 * level l are 64^l ms wide. The wheel costs 8 bytes per slot (3 KiB). */
#define SL_TIMER_SLOT_BITS 6
#define SL_TIMER_SLOTS (1u << SL_TIMER_SLOT_BITS)

/* Six levels reach 2^36 ms (2.2 years) ahead, past the longest retention.
 * A timer further out waits in the farthest top-level slot and is placed
 * again when that slot comes up: it is late to cascade, never early to fire. */
#define SL_TIMER_LEVELS 6
#define SL_TIMER_RANGE_MS (1ull << (SL_TIMER_SLOT_BITS * SL_TIMER_LEVELS))

/* Timers one sl_timer_advance() call moves down a level or onto the due
 * list, so that a big cascade (a slot of visibility timeouts, or catching
 * up after a stall) costs one loop iteration at most ~0.3 ms: a move is
 * ~10 ns with the timer in cache and ~70 ns without (benches/micro). The
 * rest moves on the next iterations, which do not sleep meanwhile. */
#define SL_TIMER_MOVES_MAX 4096

/* Timer callbacks one loop iteration runs; the rest run on the next ones,
 * which do not sleep while any is due. Bounds one iteration's timer work
 * the way SL_MSG_BURSTS_PER_LOOP bounds its ring work. */
#define SL_TIMER_BUDGET 1024

_Static_assert(SL_TIMER_SLOTS <= 64, "a level's occupancy bitmap is one uint64_t");
_Static_assert((SL_TIMER_SLOTS & (SL_TIMER_SLOTS - 1)) == 0, "slot index is a bit field");
_Static_assert(SL_TIMER_SLOT_BITS * SL_TIMER_LEVELS < 62, "wheel arithmetic must not wrap");
_Static_assert(SL_TIMER_RANGE_MS > SL_KIN_RETENTION_MAX_H * 3600ull * 1000,
	       "the longest retention needs no re-cascade");

_Static_assert((SL_RING_SLOTS & (SL_RING_SLOTS - 1)) == 0, "rte_ring wants a power of two");
_Static_assert(SL_H2_STREAM_WINDOW <= SL_H2_CONN_WINDOW, "a stream window fits the connection's");
_Static_assert(SL_H2_CONN_WINDOW < (1u << 31), "HTTP/2 windows are 31-bit");
_Static_assert(SL_KIN_PUT_RECORDS_BYTES_MAX < SL_HTTP_BODY_MAX, "a full PutRecords must fit a body");
_Static_assert(SL_SEGMENT_BYTES_MIN > SL_LOG_DATA_MAX + SL_LOG_KEY_MAX + 4096,
	       "one frame must fit a segment");
_Static_assert(SL_KIN_PK_MAX * 4 <= SL_LOG_KEY_MAX && SL_KIN_DATA_MAX <= SL_LOG_DATA_MAX,
	       "a Kinesis record (a 256-character key in UTF-8) fits a log frame");
_Static_assert(SL_KIN_PUT_RECORDS_MAX * 8 < SL_DOC_TOKS_MAX, "tokens for a full PutRecords");
_Static_assert((SL_INGEST_WINDOW & (SL_INGEST_WINDOW - 1)) == 0, "a window is a power-of-two ring");
_Static_assert(SL_PREALLOC_STEP <= SL_SEGMENT_BYTES_MIN, "one step fits the smallest segment");
_Static_assert(SL_STAGE_INIT <= SL_STAGE_MAX && SL_STAGE_MAX < SL_JOURNAL_BATCH_MAX,
	       "one shard flush fits one journal batch");
_Static_assert(SL_MSG_BURST * SL_MSG_BURSTS_PER_LOOP <= SL_RING_SLOTS, "a loop drains at most a ring");
_Static_assert(SL_JOURNAL_BATCH_MAX <= SL_JOURNAL_FILE_BYTES / 2, "a batch fits a journal file");
_Static_assert(SL_JOURNAL_FILE_BYTES_MIN <= SL_JOURNAL_FILE_BYTES,
	       "the batches in flight fit one journal file");
_Static_assert(SL_LOG_LINE_MAX <= 4096 && SL_LOG_BUF_BYTES >= 4 * SL_LOG_LINE_MAX,
	       "log lines fit one PIPE_BUF write, and a buffer holds several");

#endif
