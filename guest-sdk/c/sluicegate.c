/*
 * sluicegate.c: the C SDK's implementation of the Wasm ABI (version 1). See sluicegate.h for what
 * it covers, and guest-sdk/src/abi.rs for the one definition of the frame and reply layouts,
 * which this file follows byte for byte.
 *
 * Memory is one bump allocator over linear memory, from __heap_base up:
 *
 *     [ kept by init: configuration text, what sg_transform_init allocated ][ this call's memory ]
 *                                                                          ^ call_start
 *
 * Every call into the module starts with sluicegate_buffer, which frees this call's memory by
 * moving the top back to call_start and then takes the input buffer. A successful init moves
 * call_start up to the top, so what init allocated (and the configuration it read) stays.
 */
#include "sluicegate.h"

#define SG_EXPORT(name) __attribute__((export_name(name)))

/* The ABI's offset or length meaning "absent" (fields, index) or "remove" (in a patch). */
#define SG_ABI_NONE 0xffffffffu
#define FRAME_HEADER_LEN 16u
#define CONTEXT_ENTRY_LEN 24u
#define EVENT_ENTRY_LEN 48u
#define REPLY_HEADER_LEN 8u
#define WASM_PAGE 65536u

__attribute__((import_module("sluicegate"), import_name("log"))) void sg_host_log(int32_t level, const char *ptr, uint32_t len);
__attribute__((import_module("sluicegate"), import_name("panic"))) void sg_host_panic(const char *ptr, uint32_t len);

/* The first free byte after the module's data and stack, placed by the linker. */
extern unsigned char __heap_base;

static uintptr_t heap_top;   /* the next free byte; 0 until the first allocation */
static uintptr_t call_start; /* where each call's memory starts */
static uint8_t *input;       /* the buffer the host writes into */
static uint32_t input_len;
static bool initialised;     /* sg_transform_init accepted its configuration */

/* ---------------------------------------------------------------------------------------------- */
/* Text                                                                                            */
/* ---------------------------------------------------------------------------------------------- */

sg_str sg_cstr(const char *text) {
    if (text == NULL) {
        return SG_NONE;
    }
    uint32_t len = 0;
    while (text[len] != '\0') {
        len++;
    }
    return (sg_str){text, len};
}

bool sg_str_eq(sg_str a, sg_str b) {
    if (a.len != b.len) {
        return false;
    }
    for (uint32_t i = 0; i < a.len; i++) {
        if (a.ptr[i] != b.ptr[i]) {
            return false;
        }
    }
    return true;
}

bool sg_str_contains(sg_str haystack, sg_str needle) {
    if (needle.len == 0) {
        return true;
    }
    if (needle.len > haystack.len) {
        return false;
    }
    uint32_t last_start = haystack.len - needle.len;
    for (uint32_t start = 0; start <= last_start; start++) {
        if (haystack.ptr[start] != needle.ptr[0]) {
            continue;
        }
        uint32_t i = 1;
        while (i < needle.len && haystack.ptr[start + i] == needle.ptr[i]) {
            i++;
        }
        if (i == needle.len) {
            return true;
        }
    }
    return false;
}

/* ---------------------------------------------------------------------------------------------- */
/* Memory                                                                                          */
/* ---------------------------------------------------------------------------------------------- */

static void heap_start(void) {
    if (heap_top == 0) {
        heap_top = ((uintptr_t)&__heap_base + 7) & ~(uintptr_t)7;
        call_start = heap_top;
    }
}

/* Makes [at, at + len) usable, growing the memory if needed, and moves the top to its end. */
static void *heap_take(uintptr_t at, uint64_t len) {
    uint64_t end = (uint64_t)at + len;
    uint64_t size = (uint64_t)__builtin_wasm_memory_size(0) * WASM_PAGE;
    if (end > size) {
        uint64_t pages = (end - size + WASM_PAGE - 1) / WASM_PAGE;
        /* A refused growth traps without a message of ours, so the host names its memory cap. */
        if (end > 0xffffffffu || __builtin_wasm_memory_grow(0, (size_t)pages) == (size_t)-1) {
            __builtin_trap();
        }
    }
    heap_top = (uintptr_t)end;
    return (void *)at;
}

void *sg_alloc(uint32_t len) {
    heap_start();
    return heap_take((heap_top + 7) & ~(uintptr_t)7, len);
}

static void buf_reserve(sg_buf *buf, uint32_t extra) {
    uint64_t need = (uint64_t)buf->len + extra;
    if (need <= buf->cap) {
        return;
    }
    uint64_t cap = (uint64_t)buf->cap * 2;
    if (cap < need) {
        cap = need;
    }
    if (cap < 64) {
        cap = 64;
    }
    if (cap > 0xffffffffu) {
        sg_panic_cstr("sg_buf: a buffer cannot grow past 4 GiB");
    }
    heap_start();
    if (buf->ptr != NULL && (uintptr_t)buf->ptr + buf->cap == heap_top) {
        /* The buffer is the last allocation: it grows in place. */
        heap_take((uintptr_t)buf->ptr, cap);
    } else {
        char *moved = sg_alloc((uint32_t)cap);
        if (buf->len > 0) {
            __builtin_memcpy(moved, buf->ptr, buf->len);
        }
        buf->ptr = moved;
    }
    buf->cap = (uint32_t)cap;
}

void sg_buf_push(sg_buf *buf, const void *bytes, uint32_t len) {
    if (len == 0) {
        return;
    }
    buf_reserve(buf, len);
    __builtin_memcpy(buf->ptr + buf->len, bytes, len);
    buf->len += len;
}

void sg_buf_push_str(sg_buf *buf, sg_str text) { sg_buf_push(buf, text.ptr, text.len); }

void sg_buf_push_cstr(sg_buf *buf, const char *text) { sg_buf_push_str(buf, sg_cstr(text)); }

void sg_buf_push_byte(sg_buf *buf, char byte) { sg_buf_push(buf, &byte, 1); }

void sg_buf_push_u64(sg_buf *buf, uint64_t value) {
    char digits[20];
    uint32_t n = 0;
    do {
        digits[sizeof digits - 1 - n] = (char)('0' + value % 10);
        value /= 10;
        n++;
    } while (value != 0);
    sg_buf_push(buf, digits + sizeof digits - n, n);
}

void sg_buf_push_json_string(sg_buf *buf, sg_str text) {
    static const char hex[] = "0123456789abcdef";
    sg_buf_push_byte(buf, '"');
    uint32_t plain_from = 0;
    for (uint32_t i = 0; i < text.len; i++) {
        unsigned char byte = (unsigned char)text.ptr[i];
        if (byte >= 0x20 && byte != '"' && byte != '\\') {
            continue;
        }
        /* Copy the run of bytes that need no escape, then the escape. */
        sg_buf_push(buf, text.ptr + plain_from, i - plain_from);
        plain_from = i + 1;
        switch (byte) {
        case '"': sg_buf_push(buf, "\\\"", 2); break;
        case '\\': sg_buf_push(buf, "\\\\", 2); break;
        case '\n': sg_buf_push(buf, "\\n", 2); break;
        case '\r': sg_buf_push(buf, "\\r", 2); break;
        case '\t': sg_buf_push(buf, "\\t", 2); break;
        default: {
            char escape[6] = {'\\', 'u', '0', '0', hex[byte >> 4], hex[byte & 15]};
            sg_buf_push(buf, escape, 6);
        }
        }
    }
    sg_buf_push(buf, text.ptr + plain_from, text.len - plain_from);
    sg_buf_push_byte(buf, '"');
}

sg_str sg_buf_str(const sg_buf *buf) { return (sg_str){buf->ptr != NULL ? buf->ptr : "", buf->len}; }

const char *sg_buf_cstr(sg_buf *buf) {
    buf_reserve(buf, 1);
    buf->ptr[buf->len] = '\0';
    return buf->ptr;
}

/* ---------------------------------------------------------------------------------------------- */
/* Host imports                                                                                    */
/* ---------------------------------------------------------------------------------------------- */

void sg_log(sg_str line) {
    /* The host ignores the level; the Rust SDK sends 0 too. */
    sg_host_log(0, line.ptr != NULL ? line.ptr : "", line.len);
}

void sg_log_cstr(const char *line) { sg_log(sg_cstr(line)); }

void sg_panic(sg_str message) {
    sg_host_panic(message.ptr != NULL ? message.ptr : "", message.len);
    __builtin_trap();
}

void sg_panic_cstr(const char *message) { sg_panic(sg_cstr(message)); }

/* ---------------------------------------------------------------------------------------------- */
/* The frame                                                                                       */
/* ---------------------------------------------------------------------------------------------- */

static uint32_t get_u32(const uint8_t *at) {
    uint32_t value;
    __builtin_memcpy(&value, at, 4); /* Wasm is little-endian, as the ABI is */
    return value;
}

static int64_t get_i64(const uint8_t *at) {
    int64_t value;
    __builtin_memcpy(&value, at, 8);
    return value;
}

bool sg_frame_parse(sg_frame *frame, const uint8_t *bytes, uint32_t len, const char **error) {
    if (len < FRAME_HEADER_LEN) {
        *error = "malformed frame: shorter than its header";
        return false;
    }
    if (get_u32(bytes) != SG_ABI_VERSION) {
        *error = "malformed frame: not ABI version 1";
        return false;
    }
    uint32_t n_contexts = get_u32(bytes + 4);
    uint32_t n_events = get_u32(bytes + 8);
    uint64_t tables = FRAME_HEADER_LEN + (uint64_t)n_contexts * CONTEXT_ENTRY_LEN + (uint64_t)n_events * EVENT_ENTRY_LEN;
    if (tables > len) {
        *error = "malformed frame: its tables are longer than the frame";
        return false;
    }
    *frame = (sg_frame){.bytes = bytes, .len = len, .n_contexts = n_contexts, .n_events = n_events};
    return true;
}

/* Reads the (offset, length) pair at `entry_at`. An absent text is SG_NONE, or "" when
 * `required`: the ABI's reader gives ids, messages and contexts as empty texts then. */
static bool frame_text(const sg_frame *frame, uint32_t entry_at, bool required, sg_str *out, const char **error) {
    uint32_t offset = get_u32(frame->bytes + entry_at);
    uint32_t len = get_u32(frame->bytes + entry_at + 4);
    if (offset == SG_ABI_NONE) {
        *out = required ? SG_STR("") : SG_NONE;
        return true;
    }
    if ((uint64_t)offset + len > frame->len) {
        *error = "malformed frame: a text lies outside the frame";
        return false;
    }
    *out = (sg_str){(const char *)frame->bytes + offset, len};
    return true;
}

bool sg_frame_context(const sg_frame *frame, uint32_t context_idx, sg_context *out, const char **error) {
    if (context_idx >= frame->n_contexts) {
        *error = "malformed frame: no such context";
        return false;
    }
    uint32_t entry_at = FRAME_HEADER_LEN + context_idx * CONTEXT_ENTRY_LEN;
    return frame_text(frame, entry_at, true, &out->owner, error) && frame_text(frame, entry_at + 8, true, &out->log_group, error) &&
           frame_text(frame, entry_at + 16, true, &out->log_stream, error);
}

bool sg_frame_event(const sg_frame *frame, uint32_t event_idx, sg_event *out, const char **error) {
    if (event_idx >= frame->n_events) {
        *error = "malformed frame: no such event";
        return false;
    }
    uint32_t entry_at = FRAME_HEADER_LEN + frame->n_contexts * CONTEXT_ENTRY_LEN + event_idx * EVENT_ENTRY_LEN;
    out->idx = event_idx;
    out->timestamp = get_i64(frame->bytes + entry_at);
    out->context_idx = get_u32(frame->bytes + entry_at + 8);
    return frame_text(frame, entry_at + 12, true, &out->id, error) && frame_text(frame, entry_at + 20, true, &out->message, error) &&
           frame_text(frame, entry_at + 28, false, &out->fields, error) && frame_text(frame, entry_at + 36, false, &out->index, error) &&
           sg_frame_context(frame, out->context_idx, &out->context, error);
}

/* ---------------------------------------------------------------------------------------------- */
/* The verdict and the reply                                                                       */
/* ---------------------------------------------------------------------------------------------- */

void sg_set_message(sg_verdict *verdict, sg_str message) {
    verdict->kind = SG_MODIFIED;
    verdict->changes |= SG_CHANGED_MESSAGE;
    verdict->message = message;
}

void sg_set_fields(sg_verdict *verdict, sg_str fields) {
    verdict->kind = SG_MODIFIED;
    verdict->changes |= SG_CHANGED_FIELDS;
    verdict->fields = fields;
}

void sg_set_index(sg_verdict *verdict, sg_str index) {
    verdict->kind = SG_MODIFIED;
    verdict->changes |= SG_CHANGED_INDEX;
    verdict->index = index;
}

void sg_set_timestamp(sg_verdict *verdict, int64_t timestamp) {
    verdict->kind = SG_MODIFIED;
    verdict->changes |= SG_CHANGED_TIMESTAMP;
    verdict->timestamp = timestamp;
}

static void push_u32(sg_buf *buf, uint32_t value) { sg_buf_push(buf, &value, 4); }

/* A patch text: its length and bytes, or the length SG_ABI_NONE alone when it is absent. */
static void push_text(sg_buf *buf, sg_str text) {
    if (text.ptr == NULL) {
        push_u32(buf, SG_ABI_NONE);
        return;
    }
    push_u32(buf, text.len);
    sg_buf_push_str(buf, text);
}

void sg_reply_begin(sg_reply *reply, uint32_t n_events) {
    *reply = (sg_reply){.n_events = n_events};
    buf_reserve(&reply->bytes, REPLY_HEADER_LEN + n_events);
    push_u32(&reply->bytes, n_events);
    push_u32(&reply->bytes, 0);
    if (n_events > 0) {
        __builtin_memset(reply->bytes.ptr + REPLY_HEADER_LEN, SG_KEEP, n_events);
    }
    reply->bytes.len += n_events;
}

void sg_reply_write(sg_reply *reply, uint32_t event_idx, const sg_verdict *verdict) {
    if (event_idx >= reply->n_events || event_idx < reply->next_event_idx) {
        sg_panic_cstr("sg_reply_write: verdicts must come in event order, one per event");
    }
    reply->next_event_idx = event_idx + 1;
    sg_buf *bytes = &reply->bytes;
    switch (verdict->kind) {
    case SG_KEEP:
        return;
    case SG_DROP:
        bytes->ptr[REPLY_HEADER_LEN + event_idx] = SG_DROP;
        return;
    case SG_MODIFIED: {
        uint32_t changes = verdict->changes & (SG_CHANGED_TIMESTAMP | SG_CHANGED_MESSAGE | SG_CHANGED_FIELDS | SG_CHANGED_INDEX);
        if (changes == 0) {
            return;
        }
        bytes->ptr[REPLY_HEADER_LEN + event_idx] = SG_MODIFIED;
        reply->n_patches++;
        push_u32(bytes, event_idx);
        push_u32(bytes, changes);
        if (changes & SG_CHANGED_TIMESTAMP) {
            sg_buf_push(bytes, &verdict->timestamp, 8);
        }
        if (changes & SG_CHANGED_MESSAGE) {
            /* A message cannot be removed: an absent one is the empty message. */
            push_text(bytes, verdict->message.ptr != NULL ? verdict->message : SG_STR(""));
        }
        if (changes & SG_CHANGED_FIELDS) {
            push_text(bytes, verdict->fields);
        }
        if (changes & SG_CHANGED_INDEX) {
            push_text(bytes, verdict->index);
        }
        return;
    }
    case SG_FAILED:
        bytes->ptr[REPLY_HEADER_LEN + event_idx] = SG_FAILED;
        reply->n_patches++;
        push_u32(bytes, event_idx);
        push_text(bytes, verdict->reason.len > 0 ? verdict->reason : SG_STR("the transform failed without a reason"));
        return;
    }
    sg_panic_cstr("sg_reply_write: unknown verdict kind");
}

sg_str sg_reply_finish(sg_reply *reply) {
    __builtin_memcpy(reply->bytes.ptr + 4, &reply->n_patches, 4);
    return sg_buf_str(&reply->bytes);
}

/* ---------------------------------------------------------------------------------------------- */
/* The exports                                                                                     */
/* ---------------------------------------------------------------------------------------------- */

/* A reply area as the ABI returns it: address << 32 | length. */
static int64_t area(sg_str text) { return (int64_t)(((uint64_t)(uintptr_t)text.ptr << 32) | text.len); }

SG_EXPORT("sluicegate_abi_v1") int32_t sluicegate_abi_v1(void) { return SG_ABI_VERSION; }

SG_EXPORT("sluicegate_buffer") int32_t sluicegate_buffer(int32_t len) {
    heap_start();
    /* A new call: the previous call's memory (its input and reply) is free again. */
    heap_top = call_start;
    input_len = (uint32_t)len;
    input = sg_alloc(input_len);
    return (int32_t)(uintptr_t)input;
}

SG_EXPORT("sluicegate_init") int64_t sluicegate_init(int32_t len) {
    if ((uint32_t)len > input_len) {
        sg_panic_cstr("sluicegate_init: the configuration is longer than the buffer");
    }
    const char *error = sg_transform_init((sg_str){(const char *)input, (uint32_t)len});
    if (error != NULL) {
        /* An empty area would read as success. */
        return area(sg_cstr(*error != '\0' ? error : "init failed"));
    }
    /* What init allocated, and the configuration it may point into, outlive every call. */
    call_start = heap_top;
    initialised = true;
    return 0;
}

SG_EXPORT("sluicegate_process") int64_t sluicegate_process(int32_t len) {
    if (!initialised) {
        sg_panic_cstr("sluicegate_process called before a successful sluicegate_init");
    }
    if ((uint32_t)len > input_len) {
        sg_panic_cstr("sluicegate_process: the frame is longer than the buffer");
    }
    /* A frame the SDK cannot read is the host's bug, not an event's: trap with the reason. */
    const char *error = NULL;
    sg_frame frame;
    if (!sg_frame_parse(&frame, input, (uint32_t)len, &error)) {
        sg_panic_cstr(error);
    }
    sg_reply reply;
    sg_reply_begin(&reply, frame.n_events);
    for (uint32_t event_idx = 0; event_idx < frame.n_events; event_idx++) {
        sg_event event;
        if (!sg_frame_event(&frame, event_idx, &event, &error)) {
            sg_panic_cstr(error);
        }
        sg_verdict verdict = sg_transform_event(&event);
        sg_reply_write(&reply, event_idx, &verdict);
    }
    return area(sg_reply_finish(&reply));
}
