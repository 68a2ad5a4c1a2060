/*
 * hreflex_proto.h - hreflex wire protocol, version 1 (see PROTOCOL.md).
 *
 * CRC-32 (IEEE, zlib-compatible), COBS, frame builders and parsers, and a byte-at-a-time
 * streaming decoder. Portable C99: no heap, no stdio, no Arduino dependency. All multi-byte
 * fields are little-endian on the wire and are read/written byte by byte, so the code is
 * independent of the host's endianness and alignment rules.
 */
#ifndef HREFLEX_PROTO_H
#define HREFLEX_PROTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HRX_PROTOCOL_VERSION 1u
#define HRX_HEADER_LEN 4u
#define HRX_CRC_LEN 4u
/* largest decoded frame (header + payload + CRC) */
#define HRX_MAX_FRAME_LEN 8192u
/* worst-case COBS length of n bytes (no delimiter) */
#define HRX_COBS_MAX(n) ((n) + (n) / 254u + 1u)
/* largest encoded frame without its delimiter */
#define HRX_MAX_WIRE_LEN HRX_COBS_MAX(HRX_MAX_FRAME_LEN)
/* a decoder buffer of this size reproduces the host decoder's counters exactly */
#define HRX_DECODER_FULL_CAP (HRX_MAX_WIRE_LEN - 1u)
#define HRX_NO_SAMPLE_INDEX UINT64_MAX
#define HRX_MAX_TEXT_LEN 64u

/* payload sizes (bytes) */
#define HRX_BLOCK_HEAD_LEN 16u
#define HRX_EVENT_LEN 32u
#define HRX_COMMAND_HEAD_LEN 4u
#define HRX_RESPONSE_HEAD_LEN 8u
#define HRX_STATUS_LEN 40u
#define HRX_IDENTITY_HEAD_LEN 68u
/* decoded frame length of a sample block of n samples x c channels */
#define HRX_BLOCK_FRAME_LEN(n, c) \
    (HRX_HEADER_LEN + HRX_BLOCK_HEAD_LEN + (size_t)(n) * (2u * (size_t)(c) + 1u) + HRX_CRC_LEN)

enum hrx_frame_type {
    HRX_T_SAMPLE_BLOCK = 0x01,
    HRX_T_STIM_EVENT = 0x02,
    HRX_T_COMMAND = 0x03,
    HRX_T_RESPONSE = 0x04,
    HRX_T_STATUS = 0x05,
    HRX_T_IDENTITY = 0x06
};

enum hrx_opcode {
    HRX_OP_IDENTIFY = 0x01,
    HRX_OP_CONFIGURE_AMPLIFIER = 0x02, /* u32 sample_rate_Hz, u16 samples_per_block, u8 n_channels, u8 0 */
    HRX_OP_CONFIGURE_STIMULATOR = 0x03, /* u32 heartbeat_timeout_ms */
    HRX_OP_START = 0x04,
    HRX_OP_STOP = 0x05,
    HRX_OP_SET_STIMULUS = 0x06, /* u32 intensity_uA, u32 pulse_width_us */
    HRX_OP_ARM = 0x07,
    HRX_OP_FIRE = 0x08,
    HRX_OP_DISARM = 0x09,
    HRX_OP_HEARTBEAT = 0x0A,
    HRX_OP_GET_STATUS = 0x0B
};

enum hrx_reason {
    HRX_R_OK = 0,
    HRX_R_UNKNOWN_OPCODE = 1,
    HRX_R_BAD_ARGUMENTS = 2,
    HRX_R_NOT_SUPPORTED = 3,
    HRX_R_BAD_CONFIG = 4,
    HRX_R_BUSY = 5,
    HRX_R_INTENSITY_LIMIT = 10,
    HRX_R_PULSE_WIDTH_LIMIT = 11,
    HRX_R_NOT_ARMED = 12,
    HRX_R_RATE_LIMIT = 13,
    HRX_R_NO_STIMULUS = 14,
    HRX_R_WATCHDOG = 15,
    HRX_R_HOST_DISARM = 16
};

enum hrx_device_kind { HRX_KIND_AMPLIFIER = 1, HRX_KIND_STIMULATOR = 2 };

/* STATUS state bits */
#define HRX_ST_ARMED 0x01u
#define HRX_ST_STREAMING 0x02u
#define HRX_ST_WATCHDOG_TRIPPED 0x04u
#define HRX_ST_STIMULUS_SET 0x08u

/* why a frame was rejected; also the order in which the checks are made */
typedef enum {
    HRX_OK = 0,
    HRX_E_OVERSIZE,
    HRX_E_COBS,
    HRX_E_TOO_SHORT,
    HRX_E_CRC,
    HRX_E_VERSION,
    HRX_E_TYPE,
    HRX_E_MALFORMED
} hrx_err_t;

/* ---- little-endian helpers ------------------------------------------------------------ */
void hrx_put_u16(uint8_t *p, uint16_t v);
void hrx_put_u32(uint8_t *p, uint32_t v);
void hrx_put_u64(uint8_t *p, uint64_t v);
void hrx_put_f32(uint8_t *p, float v);
uint16_t hrx_get_u16(const uint8_t *p);
uint32_t hrx_get_u32(const uint8_t *p);
uint64_t hrx_get_u64(const uint8_t *p);
float hrx_get_f32(const uint8_t *p);

/* ---- CRC-32 and COBS ------------------------------------------------------------------ */
/* zlib-compatible CRC-32: start with crc = 0, chain calls for data in pieces */
uint32_t hrx_crc32(uint32_t crc, const uint8_t *data, size_t n);
/* COBS-encode n bytes into out (room for HRX_COBS_MAX(n)); returns the encoded length.
   The final code byte is always emitted (254 non-zero bytes -> FF ... 01). */
size_t hrx_cobs_encode(const uint8_t *in, size_t n, uint8_t *out);
/* decode one frame (no delimiter); returns the decoded length or -1 (invalid or > cap) */
long hrx_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap);

/* ---- typed payloads --------------------------------------------------------------------- */
typedef struct {
    uint32_t seq;
    uint64_t first_sample;
    uint16_t n_samples;
    uint8_t n_channels;
    const uint8_t *samples_le; /* n_samples * n_channels int16, little-endian, interleaved */
    const uint8_t *digital;    /* n_samples bytes */
} hrx_sample_block_t;

typedef struct {
    uint32_t pulse_counter;
    uint64_t sample_index; /* HRX_NO_SAMPLE_INDEX when the device has no ADC clock */
    uint64_t device_time_us;
    uint32_t intensity_uA;
    uint32_t pulse_width_us;
    uint16_t request_id;
} hrx_stim_event_t;

typedef struct {
    uint16_t request_id;
    uint8_t opcode;
    const uint8_t *args;
    size_t n_args;
} hrx_command_t;

typedef struct {
    uint16_t request_id;
    uint8_t opcode;
    uint8_t nack; /* 0 = ACK, 1 = NACK */
    uint16_t reason;
    uint8_t text_len;
    const char *text; /* not NUL-terminated */
} hrx_response_t;

typedef struct {
    uint64_t device_time_us;
    uint8_t state; /* HRX_ST_* bits */
    uint16_t last_disarm_reason;
    uint32_t pulses_delivered, blocks_sent, frames_received, rx_errors, watchdog_trips,
        dropped_samples, heartbeat_timeout_ms;
} hrx_status_t;

typedef struct {
    uint8_t kind, protocol_version, fw_major, fw_minor, fw_patch, adc_bits, n_channels, n_scales;
    uint32_t sample_rate_Hz;
    float gain, highpass_Hz, lowpass_Hz;
    uint32_t max_intensity_uA, max_pulse_width_us, max_rate_mHz;
    char model[17];  /* NUL-terminated, at most 16 characters */
    char serial[17];
    const uint8_t *scales_le; /* parse: n_scales little-endian float32, V per count */
} hrx_identity_t;

/* ---- building frames --------------------------------------------------------------------
 * Each builder writes header + payload + CRC into frame[0..cap) and returns the frame
 * length, or 0 when cap is too small or an argument is out of range. */
size_t hrx_frame_finish(uint8_t *frame, uint8_t type, uint8_t stream, size_t payload_len);
/* samples: n_samples * n_channels values, interleaved (sample-major) */
size_t hrx_build_sample_block(uint8_t *frame, size_t cap, uint8_t stream, uint32_t seq,
                              uint64_t first_sample, uint16_t n_samples, uint8_t n_channels,
                              const int16_t *samples, const uint8_t *digital);
size_t hrx_build_stim_event(uint8_t *frame, size_t cap, uint8_t stream,
                            const hrx_stim_event_t *ev);
size_t hrx_build_command(uint8_t *frame, size_t cap, uint8_t stream, uint16_t request_id,
                         uint8_t opcode, const uint8_t *args, size_t n_args);
/* text: NUL-terminated ASCII, at most HRX_MAX_TEXT_LEN characters */
size_t hrx_build_response(uint8_t *frame, size_t cap, uint8_t stream, uint16_t request_id,
                          uint8_t opcode, uint8_t nack, uint16_t reason, const char *text);
size_t hrx_build_status(uint8_t *frame, size_t cap, uint8_t stream, const hrx_status_t *st);
/* scales: n_scales float32 values (host order) */
size_t hrx_build_identity(uint8_t *frame, size_t cap, uint8_t stream, const hrx_identity_t *id,
                          const float *scales);
/* COBS-encode a frame and append the 0x00 delimiter; wire needs HRX_COBS_MAX(n) + 1 bytes */
size_t hrx_wire_encode(const uint8_t *frame, size_t n, uint8_t *wire);

/* ---- parsing frames --------------------------------------------------------------------- */
typedef struct {
    uint8_t type, stream;
    const uint8_t *payload;
    size_t payload_len;
} hrx_frame_t;

/* All checks of a decoded frame, in the order of hrx_err_t (length, CRC, version, type,
   payload structure); fills out on HRX_OK. */
hrx_err_t hrx_parse_frame(const uint8_t *frame, size_t n, hrx_frame_t *out);
/* typed views of a frame that passed hrx_parse_frame (no further checks needed) */
void hrx_get_sample_block(const hrx_frame_t *f, hrx_sample_block_t *out);
int16_t hrx_block_sample(const hrx_sample_block_t *b, size_t i, size_t ch);
void hrx_get_stim_event(const hrx_frame_t *f, hrx_stim_event_t *out);
void hrx_get_command(const hrx_frame_t *f, hrx_command_t *out);
void hrx_get_response(const hrx_frame_t *f, hrx_response_t *out);
void hrx_get_status(const hrx_frame_t *f, hrx_status_t *out);
void hrx_get_identity(const hrx_frame_t *f, hrx_identity_t *out);

/* ---- streaming decoder ------------------------------------------------------------------ */
typedef struct {
    uint32_t frames, oversize, cobs, too_short, crc, version, type, malformed, truncated;
} hrx_counters_t;

typedef struct {
    uint8_t *buf; /* caller's storage for one decoded frame */
    size_t cap;
    size_t len;      /* decoded bytes of the current frame */
    size_t wire_len; /* encoded bytes of the current frame */
    uint8_t code;    /* current COBS code */
    uint8_t left;    /* data bytes left in the current COBS block */
    uint8_t overflow;
    hrx_counters_t counters;
} hrx_decoder_t;

/* buf/cap: storage for the largest frame this device accepts; a frame that does not fit is
   counted as oversize (HRX_DECODER_FULL_CAP makes the counters match the host decoder). */
void hrx_decoder_init(hrx_decoder_t *d, uint8_t *buf, size_t cap);
/* Push one received byte. Returns 1 when it completed a valid frame (described by *out,
   pointing into the decoder's buffer until the next push), else 0. Never fails. */
int hrx_decoder_push(hrx_decoder_t *d, uint8_t byte, hrx_frame_t *out);
/* End of stream: a partial frame is counted as truncated. */
void hrx_decoder_finish(hrx_decoder_t *d);
uint32_t hrx_counters_errors(const hrx_counters_t *c);

/* short fixed text for a reason code (for NACK texts) */
const char *hrx_reason_text(uint16_t reason);

#ifdef __cplusplus
}
#endif

#endif /* HREFLEX_PROTO_H */
