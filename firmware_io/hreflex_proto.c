/* hreflex_proto.c - see hreflex_proto.h and PROTOCOL.md */
#include "hreflex_proto.h"

#include <string.h>

/* ---- little-endian helpers ------------------------------------------------------------ */
void hrx_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
void hrx_put_u32(uint8_t *p, uint32_t v) {
    hrx_put_u16(p, (uint16_t)v);
    hrx_put_u16(p + 2, (uint16_t)(v >> 16));
}
void hrx_put_u64(uint8_t *p, uint64_t v) {
    hrx_put_u32(p, (uint32_t)v);
    hrx_put_u32(p + 4, (uint32_t)(v >> 32));
}
void hrx_put_f32(uint8_t *p, float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    hrx_put_u32(p, bits);
}
uint16_t hrx_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (uint16_t)p[1] << 8); }
uint32_t hrx_get_u32(const uint8_t *p) {
    return (uint32_t)hrx_get_u16(p) | (uint32_t)hrx_get_u16(p + 2) << 16;
}
uint64_t hrx_get_u64(const uint8_t *p) {
    return (uint64_t)hrx_get_u32(p) | (uint64_t)hrx_get_u32(p + 4) << 32;
}
float hrx_get_f32(const uint8_t *p) {
    uint32_t bits = hrx_get_u32(p);
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

/* ---- CRC-32 (reflected polynomial 0xEDB88320), 16-entry table: 64 bytes of flash -------- */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};

uint32_t hrx_crc32(uint32_t crc, const uint8_t *data, size_t n) {
    crc = ~crc;
    while (n--) {
        crc ^= *data++;
        crc = (crc >> 4) ^ crc_nibble[crc & 0x0Fu];
        crc = (crc >> 4) ^ crc_nibble[crc & 0x0Fu];
    }
    return ~crc;
}

/* ---- COBS ------------------------------------------------------------------------------- */
size_t hrx_cobs_encode(const uint8_t *in, size_t n, uint8_t *out) {
    size_t code_at = 0, o = 1;
    uint8_t code = 1;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == 0) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
        } else {
            out[o++] = in[i];
            if (++code == 0xFF) {
                out[code_at] = code;
                code_at = o++;
                code = 1;
            }
        }
    }
    out[code_at] = code;
    return o;
}

long hrx_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    size_t p = 0, o = 0;
    if (n == 0) return -1;
    while (p < n) {
        uint8_t code = in[p];
        size_t q = p + code;
        if (code == 0 || q > n) return -1;
        for (size_t i = p + 1; i < q; i++) {
            if (in[i] == 0 || o >= cap) return -1;
            out[o++] = in[i];
        }
        if (code != 0xFF && q < n) {
            if (o >= cap) return -1;
            out[o++] = 0;
        }
        p = q;
    }
    return (long)o;
}

/* ---- building frames -------------------------------------------------------------------- */
size_t hrx_frame_finish(uint8_t *frame, uint8_t type, uint8_t stream, size_t payload_len) {
    size_t body = HRX_HEADER_LEN + payload_len;
    frame[0] = HRX_PROTOCOL_VERSION;
    frame[1] = type;
    frame[2] = stream;
    frame[3] = 0;
    hrx_put_u32(frame + body, hrx_crc32(0, frame, body));
    return body + HRX_CRC_LEN;
}

static int fits(size_t cap, size_t payload_len) {
    size_t n = HRX_HEADER_LEN + payload_len + HRX_CRC_LEN;
    return n <= cap && n <= HRX_MAX_FRAME_LEN;
}

size_t hrx_build_sample_block(uint8_t *frame, size_t cap, uint8_t stream, uint32_t seq,
                              uint64_t first_sample, uint16_t n_samples, uint8_t n_channels,
                              const int16_t *samples, const uint8_t *digital) {
    size_t n_values = (size_t)n_samples * n_channels;
    size_t len = HRX_BLOCK_HEAD_LEN + 2u * n_values + n_samples;
    uint8_t *p = frame + HRX_HEADER_LEN;
    if (n_samples == 0 || n_channels == 0 || !fits(cap, len)) return 0;
    hrx_put_u32(p, seq);
    hrx_put_u64(p + 4, first_sample);
    hrx_put_u16(p + 12, n_samples);
    p[14] = n_channels;
    p[15] = 0;
    p += HRX_BLOCK_HEAD_LEN;
    for (size_t i = 0; i < n_values; i++) hrx_put_u16(p + 2 * i, (uint16_t)samples[i]);
    memcpy(p + 2 * n_values, digital, n_samples);
    return hrx_frame_finish(frame, HRX_T_SAMPLE_BLOCK, stream, len);
}

size_t hrx_build_stim_event(uint8_t *frame, size_t cap, uint8_t stream,
                            const hrx_stim_event_t *ev) {
    uint8_t *p = frame + HRX_HEADER_LEN;
    if (!fits(cap, HRX_EVENT_LEN)) return 0;
    hrx_put_u32(p, ev->pulse_counter);
    hrx_put_u64(p + 4, ev->sample_index);
    hrx_put_u64(p + 12, ev->device_time_us);
    hrx_put_u32(p + 20, ev->intensity_uA);
    hrx_put_u32(p + 24, ev->pulse_width_us);
    hrx_put_u16(p + 28, ev->request_id);
    hrx_put_u16(p + 30, 0);
    return hrx_frame_finish(frame, HRX_T_STIM_EVENT, stream, HRX_EVENT_LEN);
}

size_t hrx_build_command(uint8_t *frame, size_t cap, uint8_t stream, uint16_t request_id,
                         uint8_t opcode, const uint8_t *args, size_t n_args) {
    uint8_t *p = frame + HRX_HEADER_LEN;
    if (!fits(cap, HRX_COMMAND_HEAD_LEN + n_args)) return 0;
    hrx_put_u16(p, request_id);
    p[2] = opcode;
    p[3] = 0;
    if (n_args) memcpy(p + HRX_COMMAND_HEAD_LEN, args, n_args);
    return hrx_frame_finish(frame, HRX_T_COMMAND, stream, HRX_COMMAND_HEAD_LEN + n_args);
}

size_t hrx_build_response(uint8_t *frame, size_t cap, uint8_t stream, uint16_t request_id,
                          uint8_t opcode, uint8_t nack, uint16_t reason, const char *text) {
    size_t n = text ? strlen(text) : 0;
    uint8_t *p = frame + HRX_HEADER_LEN;
    if (n > HRX_MAX_TEXT_LEN || nack > 1 || !fits(cap, HRX_RESPONSE_HEAD_LEN + n)) return 0;
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)text[i] >= 0x80) return 0;
    hrx_put_u16(p, request_id);
    p[2] = opcode;
    p[3] = nack;
    hrx_put_u16(p + 4, reason);
    p[6] = (uint8_t)n;
    p[7] = 0;
    if (n) memcpy(p + HRX_RESPONSE_HEAD_LEN, text, n);
    return hrx_frame_finish(frame, HRX_T_RESPONSE, stream, HRX_RESPONSE_HEAD_LEN + n);
}

size_t hrx_build_status(uint8_t *frame, size_t cap, uint8_t stream, const hrx_status_t *st) {
    uint8_t *p = frame + HRX_HEADER_LEN;
    if (!fits(cap, HRX_STATUS_LEN)) return 0;
    hrx_put_u64(p, st->device_time_us);
    p[8] = st->state;
    p[9] = 0;
    hrx_put_u16(p + 10, st->last_disarm_reason);
    hrx_put_u32(p + 12, st->pulses_delivered);
    hrx_put_u32(p + 16, st->blocks_sent);
    hrx_put_u32(p + 20, st->frames_received);
    hrx_put_u32(p + 24, st->rx_errors);
    hrx_put_u32(p + 28, st->watchdog_trips);
    hrx_put_u32(p + 32, st->dropped_samples);
    hrx_put_u32(p + 36, st->heartbeat_timeout_ms);
    return hrx_frame_finish(frame, HRX_T_STATUS, stream, HRX_STATUS_LEN);
}

static void put_name(uint8_t *p, const char *s) {
    size_t n = strlen(s);
    memset(p, 0, 16);
    memcpy(p, s, n > 16 ? 16 : n);
}

size_t hrx_build_identity(uint8_t *frame, size_t cap, uint8_t stream, const hrx_identity_t *id,
                          const float *scales) {
    uint8_t *p = frame + HRX_HEADER_LEN;
    size_t len = HRX_IDENTITY_HEAD_LEN + 4u * id->n_scales;
    if (!fits(cap, len) || strlen(id->model) > 16 || strlen(id->serial) > 16) return 0;
    p[0] = id->kind;
    p[1] = id->protocol_version;
    p[2] = id->fw_major;
    p[3] = id->fw_minor;
    p[4] = id->fw_patch;
    p[5] = id->adc_bits;
    p[6] = id->n_channels;
    p[7] = id->n_scales;
    hrx_put_u32(p + 8, id->sample_rate_Hz);
    hrx_put_f32(p + 12, id->gain);
    hrx_put_f32(p + 16, id->highpass_Hz);
    hrx_put_f32(p + 20, id->lowpass_Hz);
    hrx_put_u32(p + 24, id->max_intensity_uA);
    hrx_put_u32(p + 28, id->max_pulse_width_us);
    hrx_put_u32(p + 32, id->max_rate_mHz);
    put_name(p + 36, id->model);
    put_name(p + 52, id->serial);
    for (size_t i = 0; i < id->n_scales; i++) hrx_put_f32(p + 68 + 4 * i, scales[i]);
    return hrx_frame_finish(frame, HRX_T_IDENTITY, stream, len);
}

size_t hrx_wire_encode(const uint8_t *frame, size_t n, uint8_t *wire) {
    size_t m = hrx_cobs_encode(frame, n, wire);
    wire[m] = 0;
    return m + 1;
}

/* ---- parsing ------------------------------------------------------------------------------ */
static int ascii(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 0x80) return 0;
    return 1;
}

/* a 16-byte name field: ASCII, NUL-padded, no NUL before a non-NUL */
static int name_ok(const uint8_t *p) {
    int ended = 0;
    for (size_t i = 0; i < 16; i++) {
        if (p[i] == 0) ended = 1;
        else if (ended || p[i] >= 0x80) return 0;
    }
    return 1;
}

static int payload_ok(uint8_t type, const uint8_t *p, size_t n) {
    switch (type) {
    case HRX_T_SAMPLE_BLOCK: {
        if (n < HRX_BLOCK_HEAD_LEN) return 0;
        size_t ns = hrx_get_u16(p + 12), nc = p[14];
        return ns >= 1 && nc >= 1 && n == HRX_BLOCK_HEAD_LEN + ns * (2 * nc + 1);
    }
    case HRX_T_STIM_EVENT: return n == HRX_EVENT_LEN;
    case HRX_T_COMMAND: return n >= HRX_COMMAND_HEAD_LEN;
    case HRX_T_RESPONSE:
        return n >= HRX_RESPONSE_HEAD_LEN && p[3] <= 1 && p[6] <= HRX_MAX_TEXT_LEN &&
               n == HRX_RESPONSE_HEAD_LEN + (size_t)p[6] && ascii(p + HRX_RESPONSE_HEAD_LEN, p[6]);
    case HRX_T_STATUS: return n == HRX_STATUS_LEN;
    case HRX_T_IDENTITY:
        return n >= HRX_IDENTITY_HEAD_LEN && n == HRX_IDENTITY_HEAD_LEN + 4u * (size_t)p[7] &&
               name_ok(p + 36) && name_ok(p + 52);
    default: return 0;
    }
}

hrx_err_t hrx_parse_frame(const uint8_t *frame, size_t n, hrx_frame_t *out) {
    if (n > HRX_MAX_FRAME_LEN) return HRX_E_OVERSIZE;
    if (n < HRX_HEADER_LEN + HRX_CRC_LEN) return HRX_E_TOO_SHORT;
    if (hrx_crc32(0, frame, n - HRX_CRC_LEN) != hrx_get_u32(frame + n - HRX_CRC_LEN))
        return HRX_E_CRC;
    if (frame[0] != HRX_PROTOCOL_VERSION) return HRX_E_VERSION;
    if (frame[1] < HRX_T_SAMPLE_BLOCK || frame[1] > HRX_T_IDENTITY) return HRX_E_TYPE;
    if (!payload_ok(frame[1], frame + HRX_HEADER_LEN, n - HRX_HEADER_LEN - HRX_CRC_LEN))
        return HRX_E_MALFORMED;
    out->type = frame[1];
    out->stream = frame[2];
    out->payload = frame + HRX_HEADER_LEN;
    out->payload_len = n - HRX_HEADER_LEN - HRX_CRC_LEN;
    return HRX_OK;
}

void hrx_get_sample_block(const hrx_frame_t *f, hrx_sample_block_t *out) {
    const uint8_t *p = f->payload;
    out->seq = hrx_get_u32(p);
    out->first_sample = hrx_get_u64(p + 4);
    out->n_samples = hrx_get_u16(p + 12);
    out->n_channels = p[14];
    out->samples_le = p + HRX_BLOCK_HEAD_LEN;
    out->digital = out->samples_le + 2u * out->n_samples * out->n_channels;
}

int16_t hrx_block_sample(const hrx_sample_block_t *b, size_t i, size_t ch) {
    return (int16_t)hrx_get_u16(b->samples_le + 2u * (i * b->n_channels + ch));
}

void hrx_get_stim_event(const hrx_frame_t *f, hrx_stim_event_t *out) {
    const uint8_t *p = f->payload;
    out->pulse_counter = hrx_get_u32(p);
    out->sample_index = hrx_get_u64(p + 4);
    out->device_time_us = hrx_get_u64(p + 12);
    out->intensity_uA = hrx_get_u32(p + 20);
    out->pulse_width_us = hrx_get_u32(p + 24);
    out->request_id = hrx_get_u16(p + 28);
}

void hrx_get_command(const hrx_frame_t *f, hrx_command_t *out) {
    out->request_id = hrx_get_u16(f->payload);
    out->opcode = f->payload[2];
    out->args = f->payload + HRX_COMMAND_HEAD_LEN;
    out->n_args = f->payload_len - HRX_COMMAND_HEAD_LEN;
}

void hrx_get_response(const hrx_frame_t *f, hrx_response_t *out) {
    const uint8_t *p = f->payload;
    out->request_id = hrx_get_u16(p);
    out->opcode = p[2];
    out->nack = p[3];
    out->reason = hrx_get_u16(p + 4);
    out->text_len = p[6];
    out->text = (const char *)(p + HRX_RESPONSE_HEAD_LEN);
}

void hrx_get_status(const hrx_frame_t *f, hrx_status_t *out) {
    const uint8_t *p = f->payload;
    out->device_time_us = hrx_get_u64(p);
    out->state = p[8];
    out->last_disarm_reason = hrx_get_u16(p + 10);
    out->pulses_delivered = hrx_get_u32(p + 12);
    out->blocks_sent = hrx_get_u32(p + 16);
    out->frames_received = hrx_get_u32(p + 20);
    out->rx_errors = hrx_get_u32(p + 24);
    out->watchdog_trips = hrx_get_u32(p + 28);
    out->dropped_samples = hrx_get_u32(p + 32);
    out->heartbeat_timeout_ms = hrx_get_u32(p + 36);
}

void hrx_get_identity(const hrx_frame_t *f, hrx_identity_t *out) {
    const uint8_t *p = f->payload;
    out->kind = p[0];
    out->protocol_version = p[1];
    out->fw_major = p[2];
    out->fw_minor = p[3];
    out->fw_patch = p[4];
    out->adc_bits = p[5];
    out->n_channels = p[6];
    out->n_scales = p[7];
    out->sample_rate_Hz = hrx_get_u32(p + 8);
    out->gain = hrx_get_f32(p + 12);
    out->highpass_Hz = hrx_get_f32(p + 16);
    out->lowpass_Hz = hrx_get_f32(p + 20);
    out->max_intensity_uA = hrx_get_u32(p + 24);
    out->max_pulse_width_us = hrx_get_u32(p + 28);
    out->max_rate_mHz = hrx_get_u32(p + 32);
    memcpy(out->model, p + 36, 16);
    out->model[16] = 0;
    memcpy(out->serial, p + 52, 16);
    out->serial[16] = 0;
    out->scales_le = p + HRX_IDENTITY_HEAD_LEN;
}

/* ---- streaming decoder -------------------------------------------------------------------- */
void hrx_decoder_init(hrx_decoder_t *d, uint8_t *buf, size_t cap) {
    memset(d, 0, sizeof *d);
    d->buf = buf;
    d->cap = cap;
}

static void restart(hrx_decoder_t *d) {
    d->len = d->wire_len = 0;
    d->code = d->left = d->overflow = 0;
}

static void append(hrx_decoder_t *d, uint8_t byte) {
    if (d->len >= d->cap) d->overflow = 1;
    else d->buf[d->len++] = byte;
}

int hrx_decoder_push(hrx_decoder_t *d, uint8_t byte, hrx_frame_t *out) {
    if (byte != 0) {
        if (d->overflow) return 0;
        if (++d->wire_len > HRX_MAX_WIRE_LEN) {
            d->overflow = 1;
            return 0;
        }
        if (d->left == 0) { /* a code byte: the previous block ends with a zero unless 0xFF */
            if (d->wire_len > 1 && d->code != 0xFF) append(d, 0);
            d->code = byte;
            d->left = (uint8_t)(byte - 1);
        } else {
            append(d, byte);
            d->left--;
        }
        return 0;
    }
    if (d->wire_len == 0) return 0; /* empty frame: ignored */
    hrx_err_t err;
    if (d->overflow) err = HRX_E_OVERSIZE;
    else if (d->left != 0) err = HRX_E_COBS;
    else err = hrx_parse_frame(d->buf, d->len, out);
    restart(d);
    switch (err) {
    case HRX_OK: d->counters.frames++; return 1;
    case HRX_E_OVERSIZE: d->counters.oversize++; break;
    case HRX_E_COBS: d->counters.cobs++; break;
    case HRX_E_TOO_SHORT: d->counters.too_short++; break;
    case HRX_E_CRC: d->counters.crc++; break;
    case HRX_E_VERSION: d->counters.version++; break;
    case HRX_E_TYPE: d->counters.type++; break;
    case HRX_E_MALFORMED: d->counters.malformed++; break;
    }
    return 0;
}

void hrx_decoder_finish(hrx_decoder_t *d) {
    if (d->wire_len) d->counters.truncated++;
    restart(d);
}

uint32_t hrx_counters_errors(const hrx_counters_t *c) {
    return c->oversize + c->cobs + c->too_short + c->crc + c->version + c->type + c->malformed +
           c->truncated;
}

const char *hrx_reason_text(uint16_t reason) {
    switch (reason) {
    case HRX_R_OK: return "ok";
    case HRX_R_UNKNOWN_OPCODE: return "unknown opcode";
    case HRX_R_BAD_ARGUMENTS: return "wrong argument length";
    case HRX_R_NOT_SUPPORTED: return "not supported by this device";
    case HRX_R_BAD_CONFIG: return "configuration value out of range";
    case HRX_R_BUSY: return "busy: stop streaming first";
    case HRX_R_INTENSITY_LIMIT: return "intensity above device limit";
    case HRX_R_PULSE_WIDTH_LIMIT: return "pulse width zero or above device limit";
    case HRX_R_NOT_ARMED: return "not armed";
    case HRX_R_RATE_LIMIT: return "faster than the device rate limit";
    case HRX_R_NO_STIMULUS: return "no stimulus set";
    case HRX_R_WATCHDOG: return "heartbeat timeout: disarmed";
    case HRX_R_HOST_DISARM: return "disarmed by host";
    default: return "error";
    }
}
