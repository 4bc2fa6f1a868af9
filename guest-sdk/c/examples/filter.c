/*
 * filter.c: an example Sluicegate transform in C.
 *
 * For each event:
 *   - an empty message fails the event, with a reason (the pipeline applies on_error);
 *   - a message that contains any of the configured texts is dropped;
 *   - any other event is kept, and with a tag configured it gets the field
 *     {"tags": ["TAG"]} (ECS's `tags`), next to the fields earlier transforms set. An event whose
 *     fields already have `tags` keeps them as they are; fields that are not a JSON object fail
 *     the event.
 *
 * The configuration, a JSON object; both keys are optional, nothing else is accepted:
 *
 *     {"drop_if_contains": ["GET /healthz", "DEBUG"], "tag": "team-x"}
 *
 *   drop_if_contains  an array of non-empty strings, compared byte for byte (case matters)
 *   tag               a non-empty string
 *
 * Anything else (another key, another type, `null`, JSON that does not parse) makes init fail
 * with a message naming the problem, and the pipeline does not start.
 */
#include "sluicegate.h"

/* ---------------------------------------------------------------------------------------------- */
/* A small JSON reader: just enough for the configuration and the top-level keys of fields.       */
/* ---------------------------------------------------------------------------------------------- */

typedef struct reader {
    const char *start;
    const char *at;
    const char *end;
} reader;

/* Nesting deeper than this is refused rather than recursed into, as serde_json refuses it. */
#define MAX_DEPTH 128

static reader reader_of(sg_str text) { return (reader){text.ptr, text.ptr, text.ptr + text.len}; }

static void skip_space(reader *r) {
    while (r->at < r->end && (*r->at == ' ' || *r->at == '\t' || *r->at == '\n' || *r->at == '\r')) {
        r->at++;
    }
}

/* Skips space, then takes `c` if it comes next. */
static bool take(reader *r, char c) {
    skip_space(r);
    if (r->at < r->end && *r->at == c) {
        r->at++;
        return true;
    }
    return false;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool read_hex4(reader *r, uint32_t *out) {
    if (r->end - r->at < 4) return false;
    uint32_t value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = hex_digit(r->at[i]);
        if (digit < 0) return false;
        value = value * 16 + (uint32_t)digit;
    }
    r->at += 4;
    *out = value;
    return true;
}

static void push_utf8(sg_buf *out, uint32_t code_point) {
    char bytes[4];
    uint32_t n;
    if (code_point < 0x80) {
        bytes[0] = (char)code_point;
        n = 1;
    } else if (code_point < 0x800) {
        bytes[0] = (char)(0xc0 | code_point >> 6);
        bytes[1] = (char)(0x80 | (code_point & 0x3f));
        n = 2;
    } else if (code_point < 0x10000) {
        bytes[0] = (char)(0xe0 | code_point >> 12);
        bytes[1] = (char)(0x80 | (code_point >> 6 & 0x3f));
        bytes[2] = (char)(0x80 | (code_point & 0x3f));
        n = 3;
    } else {
        bytes[0] = (char)(0xf0 | code_point >> 18);
        bytes[1] = (char)(0x80 | (code_point >> 12 & 0x3f));
        bytes[2] = (char)(0x80 | (code_point >> 6 & 0x3f));
        bytes[3] = (char)(0x80 | (code_point & 0x3f));
        n = 4;
    }
    sg_buf_push(out, bytes, n);
}

/* Takes `\u` if it comes next (no space skipped: inside a string). */
static bool take_escape_u(reader *r) {
    if (r->end - r->at < 2 || r->at[0] != '\\' || r->at[1] != 'u') return false;
    r->at += 2;
    return true;
}

/* Reads a string (after optional space), decoding its escapes into `out` (NULL: only check it).
 * A lone surrogate escape becomes U+FFFD, as serde_json's lossy readers do. */
static bool read_string(reader *r, sg_buf *out) {
    if (!take(r, '"')) return false;
    while (r->at < r->end) {
        char c = *r->at++;
        if (c == '"') return true;
        if ((unsigned char)c < 0x20) return false;
        if (c != '\\') {
            if (out) sg_buf_push_byte(out, c);
            continue;
        }
        if (r->at == r->end) return false;
        char escape = *r->at++;
        uint32_t code_point;
        switch (escape) {
        case '"': case '\\': case '/': code_point = (uint32_t)escape; break;
        case 'b': code_point = '\b'; break;
        case 'f': code_point = '\f'; break;
        case 'n': code_point = '\n'; break;
        case 'r': code_point = '\r'; break;
        case 't': code_point = '\t'; break;
        case 'u': {
            if (!read_hex4(r, &code_point)) return false;
            if (code_point >= 0xd800 && code_point < 0xdc00) {
                /* A high surrogate: a low one must follow to make one code point. */
                reader low_at = *r;
                uint32_t low = 0;
                bool paired = take_escape_u(&low_at) && read_hex4(&low_at, &low) && low >= 0xdc00 && low < 0xe000;
                if (paired) {
                    *r = low_at;
                    code_point = 0x10000 + ((code_point - 0xd800) << 10) + (low - 0xdc00);
                } else {
                    code_point = 0xfffd;
                }
            } else if (code_point >= 0xdc00 && code_point < 0xe000) {
                code_point = 0xfffd;
            }
            break;
        }
        default: return false;
        }
        if (out) push_utf8(out, code_point);
    }
    return false;
}

static bool skip_value(reader *r, uint32_t depth);

/* Reads an object's members one at a time: call with `first` true for the first, then false;
 * returns 1 with the key decoded into `key` (the reader at the value), 0 at the end, -1 when it
 * is not valid JSON. */
static int next_member(reader *r, bool first, sg_buf *key) {
    if (first && !take(r, '{')) return -1;
    if (take(r, '}')) return 0;
    if (!first && !take(r, ',')) return -1;
    key->len = 0;
    if (!read_string(r, key) || !take(r, ':')) return -1;
    return 1;
}

static bool skip_value(reader *r, uint32_t depth) {
    if (depth > MAX_DEPTH) return false;
    skip_space(r);
    if (r->at == r->end) return false;
    switch (*r->at) {
    case '"':
        return read_string(r, NULL);
    case '{': {
        sg_buf key = {0};
        int found;
        for (bool first = true; (found = next_member(r, first, &key)) == 1; first = false) {
            if (!skip_value(r, depth + 1)) return false;
        }
        return found == 0;
    }
    case '[':
        r->at++;
        if (take(r, ']')) return true;
        do {
            if (!skip_value(r, depth + 1)) return false;
        } while (take(r, ','));
        return take(r, ']');
    default: {
        /* A literal, or a number: its characters are checked, not their order. */
        static const char *const literals[] = {"true", "false", "null"};
        for (int i = 0; i < 3; i++) {
            sg_str literal = sg_cstr(literals[i]);
            if (r->end - r->at >= (ptrdiff_t)literal.len && sg_str_eq((sg_str){r->at, literal.len}, literal)) {
                r->at += literal.len;
                return true;
            }
        }
        const char *from = r->at;
        while (r->at < r->end && ((*r->at >= '0' && *r->at <= '9') || *r->at == '-' || *r->at == '+' || *r->at == '.' ||
                                  *r->at == 'e' || *r->at == 'E')) {
            r->at++;
        }
        return r->at > from && (from[0] == '-' || (from[0] >= '0' && from[0] <= '9'));
    }
    }
}

/* What kind of JSON value starts at the reader, for error messages. */
static const char *kind_of(reader *r) {
    skip_space(r);
    if (r->at == r->end) return "nothing";
    switch (*r->at) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* The configuration                                                                               */
/* ---------------------------------------------------------------------------------------------- */

/* Set once by init, in memory that lives as long as the instance. */
static const sg_str *drop_texts;
static uint32_t n_drop_texts;
/* With a tag: the member `"tags":["TAG"]` and the fields object holding only it. */
static sg_str tags_member;
static sg_str tags_fields;

#define EXAMPLE "{\"drop_if_contains\": [\"GET /healthz\"], \"tag\": \"team-x\"}"

/* An error message: `first`, the key as a JSON string when one is given, then `last`. */
static const char *message(const char *first, sg_str json_key, const char *last) {
    sg_buf text = {0};
    sg_buf_push_cstr(&text, first);
    if (sg_str_present(json_key)) sg_buf_push_json_string(&text, json_key);
    sg_buf_push_cstr(&text, last);
    return sg_buf_cstr(&text);
}

/* An error message about the text at `text_idx` of drop_if_contains. */
static const char *not_a_string_at(uint32_t text_idx, const char *problem) {
    sg_buf text = {0};
    sg_buf_push_cstr(&text, "drop_if_contains[");
    sg_buf_push_u64(&text, text_idx);
    sg_buf_push_cstr(&text, "]");
    sg_buf_push_cstr(&text, problem);
    return sg_buf_cstr(&text);
}

/* The value at the reader, known to be valid JSON. */
static const char *read_drop_texts(reader *r) {
    if (!take(r, '[')) return message("drop_if_contains must be an array of strings, not ", SG_NONE, kind_of(r));
    /* The views, one after the other in a byte buffer (sg_alloc memory is 8-byte aligned). */
    sg_buf texts = {0};
    uint32_t text_idx = 0;
    for (bool first = true; !take(r, ']'); first = false, text_idx++) {
        if (!first) take(r, ',');
        skip_space(r);
        if (*r->at != '"') return not_a_string_at(text_idx, message(" must be a string, not ", SG_NONE, kind_of(r)));
        sg_buf text = {0};
        read_string(r, &text);
        if (text.len == 0) return not_a_string_at(text_idx, " is empty: every message contains it, so every event would be dropped");
        sg_str view = sg_buf_str(&text);
        sg_buf_push(&texts, &view, sizeof view);
    }
    drop_texts = (const sg_str *)texts.ptr;
    n_drop_texts = text_idx;
    return NULL;
}

/* The value at the reader, known to be valid JSON. */
static const char *read_tag(reader *r) {
    skip_space(r);
    if (*r->at != '"') return message("tag must be a non-empty string, not ", SG_NONE, kind_of(r));
    sg_buf tag = {0};
    read_string(r, &tag);
    if (tag.len == 0) return "tag must be a non-empty string, not \"\"";
    sg_buf member = {0};
    sg_buf_push_cstr(&member, "\"tags\":[");
    sg_buf_push_json_string(&member, sg_buf_str(&tag));
    sg_buf_push_cstr(&member, "]");
    tags_member = sg_buf_str(&member);
    sg_buf fields = {0};
    sg_buf_push_cstr(&fields, "{");
    sg_buf_push_str(&fields, tags_member);
    sg_buf_push_cstr(&fields, "}");
    tags_fields = sg_buf_str(&fields);
    return NULL;
}

const char *sg_transform_init(sg_str config) {
    /* Valid JSON first, so the readers below only check the shape. */
    reader r = reader_of(config);
    if (!skip_value(&r, 0) || (skip_space(&r), r.at != r.end)) {
        sg_buf text = {0};
        sg_buf_push_cstr(&text, "the configuration is not valid JSON (at byte ");
        sg_buf_push_u64(&text, (uint64_t)(r.at - r.start));
        sg_buf_push_cstr(&text, ")");
        return sg_buf_cstr(&text);
    }
    r = reader_of(config);
    skip_space(&r);
    if (*r.at != '{') {
        return message("the configuration must be a JSON object such as " EXAMPLE ", not ", SG_NONE, kind_of(&r));
    }
    bool seen_drop = false, seen_tag = false;
    sg_buf key = {0};
    for (bool first = true; next_member(&r, first, &key) == 1; first = false) {
        bool *seen;
        if (sg_str_eq(sg_buf_str(&key), SG_STR("drop_if_contains"))) {
            seen = &seen_drop;
        } else if (sg_str_eq(sg_buf_str(&key), SG_STR("tag"))) {
            seen = &seen_tag;
        } else {
            return message("unknown key ", sg_buf_str(&key), " in the configuration (accepted: drop_if_contains, tag)");
        }
        if (*seen) return message("key ", sg_buf_str(&key), " appears twice in the configuration");
        *seen = true;
        const char *error = seen == &seen_drop ? read_drop_texts(&r) : read_tag(&r);
        if (error != NULL) return error;
    }
    return NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* The events                                                                                      */
/* ---------------------------------------------------------------------------------------------- */

/* Adds the tags member to fields an earlier transform set: `{"tags":[...],` then their members. */
static sg_verdict tag_fields(sg_str fields) {
    reader r = reader_of(fields);
    sg_buf key = {0};
    uint32_t n_members = 0;
    int found;
    for (bool first = true; (found = next_member(&r, first, &key)) == 1; first = false) {
        if (sg_str_eq(sg_buf_str(&key), SG_STR("tags"))) {
            /* Tagged already (by an earlier transform): its tags stay. */
            return sg_keep();
        }
        if (!skip_value(&r, 0)) {
            found = -1;
            break;
        }
        n_members++;
    }
    skip_space(&r);
    if (found < 0 || r.at != r.end) {
        return sg_fail_cstr("the fields an earlier transform set are not a JSON object (or nest deeper than 128 levels)");
    }
    sg_verdict verdict = sg_keep();
    if (n_members == 0) {
        sg_set_fields(&verdict, tags_fields);
        return verdict;
    }
    uint32_t open = 0;
    while (fields.ptr[open] != '{') {
        open++;
    }
    sg_buf merged = {0};
    sg_buf_push_byte(&merged, '{');
    sg_buf_push_str(&merged, tags_member);
    sg_buf_push_byte(&merged, ',');
    sg_buf_push(&merged, fields.ptr + open + 1, fields.len - open - 1);
    sg_set_fields(&verdict, sg_buf_str(&merged));
    return verdict;
}

sg_verdict sg_transform_event(const sg_event *event) {
    if (event->message.len == 0) {
        return sg_fail_cstr("empty message: there is nothing to ship");
    }
    for (uint32_t i = 0; i < n_drop_texts; i++) {
        if (sg_str_contains(event->message, drop_texts[i])) {
            return sg_drop();
        }
    }
    if (!sg_str_present(tags_member)) {
        return sg_keep();
    }
    if (!sg_str_present(event->fields)) {
        sg_verdict verdict = sg_keep();
        sg_set_fields(&verdict, tags_fields);
        return verdict;
    }
    return tag_fields(event->fields);
}
