/*
 * hrx_driver.c - host-side test driver for the C protocol core (used by tests/protocol).
 *
 *   hrx_driver encode            text frames on stdin  -> wire bytes on stdout
 *   hrx_driver decode [cap]      wire bytes on stdin   -> text frames + counters on stdout
 *   hrx_driver stim UA US MHZ    "<now_us> <hex wire bytes or ->" lines on stdin drive a
 *                                simulated stimulator (limits UA, US, MHZ); its wire output
 *                                goes to stdout, its hardware actions to stderr as text
 *
 * Text frames, one per line (the canonical form of hreflex.protocol.text; hex fields are
 * "-" when empty, floats are printed with %.9g):
 *   block    STREAM SEQ FIRST N_CH N_SAMP SAMPLE... DIGITAL...
 *   event    STREAM COUNTER SAMPLE_INDEX TIME_US INTENSITY_UA WIDTH_US REQUEST_ID
 *   command  STREAM REQUEST_ID OPCODE ARGS_HEX
 *   response STREAM REQUEST_ID OPCODE NACK REASON TEXT_HEX
 *   status   STREAM TIME_US STATE REASON PULSES BLOCKS FRAMES RX_ERRORS WD_TRIPS DROPPED HB_MS
 *   identity STREAM KIND PROTO FW_MAJ FW_MIN FW_PATCH ADC_BITS N_CH RATE_HZ GAIN HP_HZ LP_HZ
 *            MAX_UA MAX_US MAX_MHZ MODEL_HEX SERIAL_HEX N_SCALES SCALE...
 *   counters frames=N oversize=N cobs=N too_short=N crc=N version=N type=N malformed=N
 *            truncated=N                                   (decode output only, last line)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hreflex_proto.h"
#include "stim_device.h"

static char line[1 << 20];
static uint8_t frame[HRX_MAX_FRAME_LEN];
static uint8_t wire[HRX_COBS_MAX(HRX_MAX_FRAME_LEN) + 1];
static uint8_t bytes[HRX_MAX_FRAME_LEN];
static int16_t samples[HRX_MAX_FRAME_LEN];
static float scales[256];

static void die(const char *what) {
    fprintf(stderr, "hrx_driver: %s\n", what);
    exit(2);
}

static char *tok(void) {
    char *t = strtok(NULL, " \t\r\n");
    if (!t) die("missing field");
    return t;
}
static unsigned long long num(void) { return strtoull(tok(), NULL, 0); }
static long long snum(void) { return strtoll(tok(), NULL, 0); }
static float flt(void) { return strtof(tok(), NULL); }

static size_t hex(uint8_t *dst, size_t max) {
    const char *t = tok();
    size_t n = 0;
    if (strcmp(t, "-") == 0) return 0;
    while (t[0] && t[1]) {
        unsigned v;
        if (n >= max || sscanf(t, "%2x", &v) != 1) die("bad hex");
        dst[n++] = (uint8_t)v;
        t += 2;
    }
    return n;
}

static void put_hex(const uint8_t *p, size_t n) {
    if (n == 0) printf(" -");
    else putchar(' ');
    for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
}

static size_t encode_line(char *kind) {
    uint8_t stream;
    if (strcmp(kind, "block") == 0) {
        stream = (uint8_t)num();
        uint32_t seq = (uint32_t)num();
        uint64_t first = num();
        uint8_t nc = (uint8_t)num();
        uint16_t ns = (uint16_t)num();
        if ((size_t)ns * nc > sizeof samples / sizeof samples[0] || ns > sizeof bytes)
            die("block too big");
        for (size_t i = 0; i < (size_t)ns * nc; i++) samples[i] = (int16_t)snum();
        for (size_t i = 0; i < ns; i++) bytes[i] = (uint8_t)num();
        return hrx_build_sample_block(frame, sizeof frame, stream, seq, first, ns, nc, samples,
                                      bytes);
    }
    if (strcmp(kind, "event") == 0) {
        hrx_stim_event_t ev;
        stream = (uint8_t)num();
        ev.pulse_counter = (uint32_t)num();
        ev.sample_index = num();
        ev.device_time_us = num();
        ev.intensity_uA = (uint32_t)num();
        ev.pulse_width_us = (uint32_t)num();
        ev.request_id = (uint16_t)num();
        return hrx_build_stim_event(frame, sizeof frame, stream, &ev);
    }
    if (strcmp(kind, "command") == 0) {
        stream = (uint8_t)num();
        uint16_t rid = (uint16_t)num();
        uint8_t op = (uint8_t)num();
        size_t n = hex(bytes, sizeof bytes);
        return hrx_build_command(frame, sizeof frame, stream, rid, op, bytes, n);
    }
    if (strcmp(kind, "response") == 0) {
        char text[HRX_MAX_TEXT_LEN + 1];
        stream = (uint8_t)num();
        uint16_t rid = (uint16_t)num();
        uint8_t op = (uint8_t)num(), nack = (uint8_t)num();
        uint16_t reason = (uint16_t)num();
        size_t n = hex((uint8_t *)text, HRX_MAX_TEXT_LEN);
        text[n] = 0;
        return hrx_build_response(frame, sizeof frame, stream, rid, op, nack, reason, text);
    }
    if (strcmp(kind, "status") == 0) {
        hrx_status_t st;
        stream = (uint8_t)num();
        st.device_time_us = num();
        st.state = (uint8_t)num();
        st.last_disarm_reason = (uint16_t)num();
        st.pulses_delivered = (uint32_t)num();
        st.blocks_sent = (uint32_t)num();
        st.frames_received = (uint32_t)num();
        st.rx_errors = (uint32_t)num();
        st.watchdog_trips = (uint32_t)num();
        st.dropped_samples = (uint32_t)num();
        st.heartbeat_timeout_ms = (uint32_t)num();
        return hrx_build_status(frame, sizeof frame, stream, &st);
    }
    if (strcmp(kind, "identity") == 0) {
        hrx_identity_t id;
        memset(&id, 0, sizeof id);
        stream = (uint8_t)num();
        id.kind = (uint8_t)num();
        id.protocol_version = (uint8_t)num();
        id.fw_major = (uint8_t)num();
        id.fw_minor = (uint8_t)num();
        id.fw_patch = (uint8_t)num();
        id.adc_bits = (uint8_t)num();
        id.n_channels = (uint8_t)num();
        id.sample_rate_Hz = (uint32_t)num();
        id.gain = flt();
        id.highpass_Hz = flt();
        id.lowpass_Hz = flt();
        id.max_intensity_uA = (uint32_t)num();
        id.max_pulse_width_us = (uint32_t)num();
        id.max_rate_mHz = (uint32_t)num();
        hex((uint8_t *)id.model, 16);
        hex((uint8_t *)id.serial, 16);
        id.n_scales = (uint8_t)num();
        for (size_t i = 0; i < id.n_scales; i++) scales[i] = flt();
        return hrx_build_identity(frame, sizeof frame, stream, &id, scales);
    }
    die("unknown frame kind");
    return 0;
}

static int do_encode(void) {
    while (fgets(line, sizeof line, stdin)) {
        char *kind = strtok(line, " \t\r\n");
        if (!kind || kind[0] == '#') continue;
        size_t n = encode_line(kind);
        if (n == 0) die("builder refused the frame");
        fwrite(wire, 1, hrx_wire_encode(frame, n, wire), stdout);
    }
    return 0;
}

static void print_frame(const hrx_frame_t *f) {
    switch (f->type) {
    case HRX_T_SAMPLE_BLOCK: {
        hrx_sample_block_t b;
        hrx_get_sample_block(f, &b);
        printf("block %u %lu %llu %u %u", f->stream, (unsigned long)b.seq,
               (unsigned long long)b.first_sample, b.n_channels, b.n_samples);
        for (size_t i = 0; i < b.n_samples; i++)
            for (size_t c = 0; c < b.n_channels; c++) printf(" %d", hrx_block_sample(&b, i, c));
        for (size_t i = 0; i < b.n_samples; i++) printf(" %u", b.digital[i]);
        break;
    }
    case HRX_T_STIM_EVENT: {
        hrx_stim_event_t e;
        hrx_get_stim_event(f, &e);
        printf("event %u %lu %llu %llu %lu %lu %u", f->stream, (unsigned long)e.pulse_counter,
               (unsigned long long)e.sample_index, (unsigned long long)e.device_time_us,
               (unsigned long)e.intensity_uA, (unsigned long)e.pulse_width_us, e.request_id);
        break;
    }
    case HRX_T_COMMAND: {
        hrx_command_t c;
        hrx_get_command(f, &c);
        printf("command %u %u %u", f->stream, c.request_id, c.opcode);
        put_hex(c.args, c.n_args);
        break;
    }
    case HRX_T_RESPONSE: {
        hrx_response_t r;
        hrx_get_response(f, &r);
        printf("response %u %u %u %u %u", f->stream, r.request_id, r.opcode, r.nack, r.reason);
        put_hex((const uint8_t *)r.text, r.text_len);
        break;
    }
    case HRX_T_STATUS: {
        hrx_status_t s;
        hrx_get_status(f, &s);
        printf("status %u %llu %u %u %lu %lu %lu %lu %lu %lu %lu", f->stream,
               (unsigned long long)s.device_time_us, s.state, s.last_disarm_reason,
               (unsigned long)s.pulses_delivered, (unsigned long)s.blocks_sent,
               (unsigned long)s.frames_received, (unsigned long)s.rx_errors,
               (unsigned long)s.watchdog_trips, (unsigned long)s.dropped_samples,
               (unsigned long)s.heartbeat_timeout_ms);
        break;
    }
    case HRX_T_IDENTITY: {
        hrx_identity_t id;
        hrx_get_identity(f, &id);
        printf("identity %u %u %u %u %u %u %u %u %lu %.9g %.9g %.9g %lu %lu %lu", f->stream,
               id.kind, id.protocol_version, id.fw_major, id.fw_minor, id.fw_patch, id.adc_bits,
               id.n_channels, (unsigned long)id.sample_rate_Hz, (double)id.gain,
               (double)id.highpass_Hz, (double)id.lowpass_Hz, (unsigned long)id.max_intensity_uA,
               (unsigned long)id.max_pulse_width_us, (unsigned long)id.max_rate_mHz);
        put_hex((const uint8_t *)id.model, strlen(id.model));
        put_hex((const uint8_t *)id.serial, strlen(id.serial));
        printf(" %u", id.n_scales);
        for (size_t i = 0; i < id.n_scales; i++)
            printf(" %.9g", (double)hrx_get_f32(id.scales_le + 4 * i));
        break;
    }
    default: break;
    }
    putchar('\n');
}

static int do_decode(size_t cap) {
    static uint8_t buf[HRX_DECODER_FULL_CAP];
    hrx_decoder_t d;
    hrx_frame_t f;
    int ch;
    if (cap == 0 || cap > sizeof buf) cap = sizeof buf;
    hrx_decoder_init(&d, buf, cap);
    while ((ch = getchar()) != EOF)
        if (hrx_decoder_push(&d, (uint8_t)ch, &f)) print_frame(&f);
    hrx_decoder_finish(&d);
    const hrx_counters_t *c = &d.counters;
    printf("counters frames=%lu oversize=%lu cobs=%lu too_short=%lu crc=%lu version=%lu "
           "type=%lu malformed=%lu truncated=%lu\n",
           (unsigned long)c->frames, (unsigned long)c->oversize, (unsigned long)c->cobs,
           (unsigned long)c->too_short, (unsigned long)c->crc, (unsigned long)c->version,
           (unsigned long)c->type, (unsigned long)c->malformed, (unsigned long)c->truncated);
    return 0;
}

/* ---- simulated stimulator ---------------------------------------------------------------- */
static unsigned long long sim_now;

static void hw_write(void *ctx, const uint8_t *p, size_t n) {
    (void)ctx;
    fwrite(p, 1, n, stdout);
}
static void hw_apply(void *ctx, uint32_t ua, uint32_t us) {
    (void)ctx;
    fprintf(stderr, "%llu apply %lu %lu\n", sim_now, (unsigned long)ua, (unsigned long)us);
}
static void hw_enable(void *ctx, int on) {
    (void)ctx;
    fprintf(stderr, "%llu enable %d\n", sim_now, on);
}
static uint64_t hw_pulse(void *ctx) {
    (void)ctx;
    fprintf(stderr, "%llu pulse\n", sim_now);
    return HRX_NO_SAMPLE_INDEX;
}

static int do_stim(uint32_t max_ua, uint32_t max_us, uint32_t max_mhz) {
    static hrx_stim_device_t dev;
    hrx_stim_limits_t lim = {max_ua, max_us, max_mhz};
    hrx_stim_hw_t hw = {NULL, hw_write, hw_apply, hw_enable, hw_pulse};
    hrx_stim_device_init(&dev, &lim, &hw, "hrx-stim-sim", "SIM0001", 1, 0, 0, 0);
    while (fgets(line, sizeof line, stdin)) {
        char *t = strtok(line, " \t\r\n");
        if (!t || t[0] == '#') continue;
        sim_now = strtoull(t, NULL, 0);
        size_t n = hex(bytes, sizeof bytes);
        hrx_stim_device_rx(&dev, bytes, n, sim_now);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "encode") == 0) return do_encode();
    if (argc >= 2 && strcmp(argv[1], "decode") == 0)
        return do_decode(argc >= 3 ? (size_t)strtoul(argv[2], NULL, 0) : 0);
    if (argc >= 5 && strcmp(argv[1], "stim") == 0)
        return do_stim((uint32_t)strtoul(argv[2], NULL, 0), (uint32_t)strtoul(argv[3], NULL, 0),
                       (uint32_t)strtoul(argv[4], NULL, 0));
    fprintf(stderr, "usage: hrx_driver encode | decode [cap] | stim MAX_UA MAX_US MAX_MHZ\n");
    return 2;
}
