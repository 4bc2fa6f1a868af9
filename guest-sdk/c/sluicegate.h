/*
 * sluicegate.h: a minimal C SDK for Sluicegate transforms (Wasm ABI version 1).
 *
 * A transform written with this header is a WebAssembly module that the Sluicegate pipeline runs
 * over every log event it ships. Build it with zig's C compiler, which comes from PyPI (the
 * guide, README.md in this folder, has the command and how to try the module):
 *
 *     python3 -m ziglang cc --target=wasm32-freestanding -O2 -s -Wl,--no-entry -Wall -Wextra \
 *         -I guest-sdk/c -o my_transform.wasm my_transform.c guest-sdk/c/sluicegate.c
 *
 * WHAT IT COVERS
 *
 * - The exports the host looks for (sluicegate_abi_v1, sluicegate_buffer, sluicegate_init,
 *   sluicegate_process; wasm-ld exports `memory` by itself). sluicegate.c defines them; you
 *   define two functions instead, sg_transform_init and sg_transform_event (below).
 * - A frame reader: the contexts and events of a batch as pointer and length views (sg_str) into
 *   the frame the host wrote. Nothing is copied.
 * - A reply writer: one sg_verdict per event (keep, drop, modified with a new message, fields,
 *   index or timestamp, failed with a reason), written in the ABI's reply layout.
 * - The host imports `log` and `panic` from the module `sluicegate`, and nothing else: no libc.
 * - Memory: a bump allocator in linear memory (sg_alloc) and a growable byte buffer (sg_buf)
 *   with the JSON string escaping that writing fields needs.
 *
 * WHAT IT DOES NOT COVER
 *
 * - JSON parsing. Fields and the configuration arrive as JSON text; parse what you need
 *   (examples/filter.c has a small reader for its configuration and for top-level keys).
 * - UTF-8 checks. The host writes valid UTF-8; every text you hand back (message, fields, index,
 *   reason, error) must be valid UTF-8 too, or the host fails the call and then the event.
 * - free(). Memory from sg_alloc during sg_transform_init lives as long as the instance; memory
 *   from sg_alloc during sg_transform_event lives until the next call into the module starts.
 * - Threads, libc, WASI. The module may import only the host's `sluicegate` module.
 *
 * THE RULES OF THE HOST
 *
 * - Each call runs under a deadline (200 ms by default); a call past it traps, the instance is
 *   discarded, and the event that causes it fails alone after bisection.
 * - Linear memory is capped (64 MiB per instance by default). sg_alloc traps when the cap stops a
 *   memory growth, and the host names the cap in the event's failure.
 * - A reply may hold at most four times its frame plus 1 KiB per event.
 * - A trap (sg_panic, __builtin_trap, a bad memory access) fails the events of that call; the host
 *   makes a new instance and runs sg_transform_init again.
 */
#ifndef SLUICEGATE_H
#define SLUICEGATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header speaks; sluicegate_abi_v1 returns it. */
#define SG_ABI_VERSION 1

/* ------------------------------------------------------------------------------------------ */
/* Text                                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* A view of text: `len` bytes at `ptr`, not NUL-terminated. An absent text (an event without
 * fields or index) has ptr == NULL and len == 0. */
typedef struct sg_str {
    const char *ptr;
    uint32_t len;
} sg_str;

/* A view of a string literal, without its NUL. */
#define SG_STR(literal) ((sg_str){(literal), (uint32_t)(sizeof(literal) - 1)})
/* The absent text. */
#define SG_NONE ((sg_str){NULL, 0})

/* A view of a NUL-terminated string (NULL gives the absent text). */
sg_str sg_cstr(const char *text);
/* Whether the text is present (ptr != NULL); an empty text is present. */
static inline bool sg_str_present(sg_str text) { return text.ptr != NULL; }
/* Whether two texts hold the same bytes. */
bool sg_str_eq(sg_str a, sg_str b);
/* Whether `needle` occurs in `haystack` (an empty needle always does). */
bool sg_str_contains(sg_str haystack, sg_str needle);

/* ------------------------------------------------------------------------------------------ */
/* Memory                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* `len` bytes, 8-byte aligned, uninitialised. Never NULL: when the host's memory cap refuses to
 * grow the memory, the call traps and the host names the cap. There is no free (see the header
 * comment for how long memory lives). */
void *sg_alloc(uint32_t len);

/* A growable byte buffer in sg_alloc memory. Start from a zeroed one: `sg_buf buf = {0};`. */
typedef struct sg_buf {
    char *ptr;
    uint32_t len;
    uint32_t cap;
} sg_buf;

void sg_buf_push(sg_buf *buf, const void *bytes, uint32_t len);
void sg_buf_push_str(sg_buf *buf, sg_str text);
void sg_buf_push_cstr(sg_buf *buf, const char *text);
void sg_buf_push_byte(sg_buf *buf, char byte);
/* Appends `value` in decimal. */
void sg_buf_push_u64(sg_buf *buf, uint64_t value);
/* Appends `text` as a JSON string literal, quotes included: `"`, `\` and control characters are
 * escaped; other bytes are copied as they are (so UTF-8 stays UTF-8). */
void sg_buf_push_json_string(sg_buf *buf, sg_str text);
/* The buffer's bytes as a view (valid until the buffer grows again). */
sg_str sg_buf_str(const sg_buf *buf);
/* The buffer's bytes as a NUL-terminated string (a NUL is added, not counted in len). */
const char *sg_buf_cstr(sg_buf *buf);

/* ------------------------------------------------------------------------------------------ */
/* Host imports                                                                                */
/* ------------------------------------------------------------------------------------------ */

/* Sends a log line to the host, which prints it as data after `transform NAME log: ` (control
 * characters escaped, cut at 1 KiB, at most 100 lines a call). */
void sg_log(sg_str line);
void sg_log_cstr(const char *line);
/* Gives the host the message and traps: the events of the call fail with the message. */
__attribute__((noreturn)) void sg_panic(sg_str message);
__attribute__((noreturn)) void sg_panic_cstr(const char *message);

/* ------------------------------------------------------------------------------------------ */
/* The frame: what the host sends                                                              */
/* ------------------------------------------------------------------------------------------ */

/* Where a group of events came from (one CloudWatch Logs subscription message). */
typedef struct sg_context {
    sg_str owner;      /* the AWS account id */
    sg_str log_group;
    sg_str log_stream;
} sg_context;

/* One log event. Every view points into the frame and is valid during the call. */
typedef struct sg_event {
    uint32_t idx;       /* its position in the frame */
    int64_t timestamp;  /* milliseconds since the Unix epoch */
    sg_str id;          /* the CloudWatch event id (the document _id) */
    sg_str message;     /* the log line */
    sg_str fields;      /* fields earlier transforms set, JSON object text; absent when none */
    sg_str index;       /* the index an earlier transform chose; absent when none */
    uint32_t context_idx;
    sg_context context; /* the context at context_idx */
} sg_event;

/* A frame being read. */
typedef struct sg_frame {
    const uint8_t *bytes;
    uint32_t len;
    uint32_t n_contexts;
    uint32_t n_events;
} sg_frame;

/* Reads a frame's header and checks that its tables fit; false (with *error set) if not. */
bool sg_frame_parse(sg_frame *frame, const uint8_t *bytes, uint32_t len, const char **error);
/* Reads one context or event, checking every offset; false (with *error set) if one is out of
 * bounds. */
bool sg_frame_context(const sg_frame *frame, uint32_t context_idx, sg_context *out, const char **error);
bool sg_frame_event(const sg_frame *frame, uint32_t event_idx, sg_event *out, const char **error);

/* ------------------------------------------------------------------------------------------ */
/* The verdict and the reply: what the transform answers                                       */
/* ------------------------------------------------------------------------------------------ */

typedef enum sg_verdict_kind {
    SG_KEEP = 0,     /* ship the event as it came in; nothing travels back */
    SG_DROP = 1,     /* do not ship it */
    SG_MODIFIED = 2, /* ship it with the changes */
    SG_FAILED = 3,   /* the transform failed on it: the pipeline applies its on_error policy */
} sg_verdict_kind;

/* The bits of sg_verdict.changes. */
#define SG_CHANGED_TIMESTAMP 1u
#define SG_CHANGED_MESSAGE 2u
#define SG_CHANGED_FIELDS 4u
#define SG_CHANGED_INDEX 8u

/* What the transform decided for one event. Build it with sg_keep, sg_drop or sg_fail, and the
 * sg_set_* functions, which make it SG_MODIFIED. The texts it points to must stay valid until
 * sg_transform_event returns (event views, configuration, sg_alloc memory or literals all do). */
typedef struct sg_verdict {
    sg_verdict_kind kind;
    uint32_t changes;  /* SG_CHANGED_* bits, for SG_MODIFIED */
    int64_t timestamp; /* with SG_CHANGED_TIMESTAMP */
    sg_str message;    /* with SG_CHANGED_MESSAGE */
    sg_str fields;     /* with SG_CHANGED_FIELDS: a JSON object's text (it replaces the event's
                        * fields as a whole), or absent to remove them */
    sg_str index;      /* with SG_CHANGED_INDEX: an index name, or absent to remove it */
    sg_str reason;     /* with SG_FAILED */
} sg_verdict;

static inline sg_verdict sg_keep(void) { return (sg_verdict){.kind = SG_KEEP}; }
static inline sg_verdict sg_drop(void) { return (sg_verdict){.kind = SG_DROP}; }
static inline sg_verdict sg_fail(sg_str reason) { return (sg_verdict){.kind = SG_FAILED, .reason = reason}; }
static inline sg_verdict sg_fail_cstr(const char *reason) { return sg_fail(sg_cstr(reason)); }
void sg_set_message(sg_verdict *verdict, sg_str message);
void sg_set_fields(sg_verdict *verdict, sg_str fields);
void sg_set_index(sg_verdict *verdict, sg_str index);
void sg_set_timestamp(sg_verdict *verdict, int64_t timestamp);

/* A reply being written: verdicts first, then a patch per modified or failed event. */
typedef struct sg_reply {
    sg_buf bytes;
    uint32_t n_events;
    uint32_t n_patches;
    uint32_t next_event_idx; /* patches must come in event order */
} sg_reply;

/* Starts a reply for `n_events` events, all kept until told otherwise. */
void sg_reply_begin(sg_reply *reply, uint32_t n_events);
/* Records the verdict of one event; calls come in event order, at most one per event. A
 * modified verdict without changes is a keep. */
void sg_reply_write(sg_reply *reply, uint32_t event_idx, const sg_verdict *verdict);
/* The finished reply. */
sg_str sg_reply_finish(sg_reply *reply);

/* ------------------------------------------------------------------------------------------ */
/* What you write                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* Called once per instance with the transform's JSON configuration (the text `null` when the
 * pipeline gives none). Return NULL to accept it, or an error message: the pipeline does not
 * start, and the host reports the message with the transform's name. What you sg_alloc here, and
 * the configuration text itself, stay valid as long as the instance, so views into `config` may
 * be kept. */
const char *sg_transform_init(sg_str config);

/* Called once per event, in frame order. The event's views are valid during the call. */
sg_verdict sg_transform_event(const sg_event *event);

#ifdef __cplusplus
}
#endif

#endif /* SLUICEGATE_H */
