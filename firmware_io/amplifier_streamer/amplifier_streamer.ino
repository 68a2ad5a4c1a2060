/*
 * amplifier_streamer.ino - hreflex EMG amplifier/ADC streamer (Teensy 4.x or similar).
 *
 * Samples 1-16 channels at 1-20 kHz on a hardware timer, plus one digital input carrying a
 * copy of the stimulus trigger (bit 0 of the per-sample digital byte), and streams SAMPLE_BLOCK
 * frames of the hreflex protocol (../PROTOCOL.md) on the USB serial port. Commands: IDENTIFY,
 * CONFIGURE_AMPLIFIER, START, STOP, HEARTBEAT, GET_STATUS; stimulator commands are NACKed.
 *
 * Build: copy (or symlink) hreflex_proto.[ch] from firmware_io/ into this sketch folder.
 *
 * read_channels() is a placeholder using analogRead (fine for a few channels at a few kHz);
 * for 16 channels at 20 kHz put a real front end there (e.g. an SPI ADC such as ADS8688 or
 * an Intan RHD2216) and update ADC_BITS, GAIN, the filter corners and SCALE_V_PER_COUNT.
 *
 * Sample clock: every timer tick takes one sample and advances sample_clock, even when the
 * ring buffer is full and the sample has to be dropped. A block never spans a drop: the next
 * block starts at the index of the next stored sample, so the host sees the jump in
 * first_sample (a "clock" gap) while seq stays continuous, and dropped_samples counts it.
 * START restarts seq and the sample clock at 0.
 */
#include <Arduino.h>
#include <IntervalTimer.h>

#include "hreflex_proto.h"

#define MAX_CH 16
#define RING 2048 /* samples (power of two) */

static const int TRIGGER_IN_PIN = 2;
static const int ADC_PINS[MAX_CH] = {A0, A1, A2, A3, A4, A5, A6, A7,
                                     A8, A9, A10, A11, A12, A13, A14, A15};
static const uint8_t ADC_BITS = 12;
static const float GAIN = 1000.0f;       /* front-end gain, V/V */
static const float HIGHPASS_HZ = 10.0f;  /* front-end filter corners */
static const float LOWPASS_HZ = 5000.0f;
/* input-referred volts per count: 3.3 V ADC span over the 16-bit count range, / gain */
static const float SCALE_V_PER_COUNT = 3.3f / 65536.0f / 1000.0f;

/* configuration (CONFIGURE_AMPLIFIER) */
static uint8_t n_ch = 2;
static uint32_t rate_hz = 5000;
static uint16_t block_len = 5; /* samples per block: 1 ms at 5 kHz */

/* ring buffer filled by the timer interrupt */
static int16_t ring[RING][MAX_CH];
static uint8_t ring_dig[RING];
static uint64_t ring_index[RING]; /* sample-clock index of each stored sample */
static volatile uint32_t head, tail; /* stored / consumed sample counts */
static volatile uint64_t sample_clock;
static volatile uint32_t dropped;

static IntervalTimer timer;
static volatile bool streaming;
static uint32_t seq, blocks_sent, frames_received;

static hrx_decoder_t rx;
static uint8_t rx_buf[64];
static uint8_t frame[HRX_MAX_FRAME_LEN];
static uint8_t wire[HRX_COBS_MAX(HRX_MAX_FRAME_LEN) + 1];
static int16_t block[HRX_MAX_FRAME_LEN / 2];
static uint8_t block_dig[HRX_MAX_FRAME_LEN / 2];

/* 64-bit microsecond clock from the wrapping 32-bit micros() (call at least every 71 min) */
static uint64_t micros64(void) {
    static uint32_t last;
    static uint64_t high;
    uint32_t now = micros();
    if (now < last) high += (uint64_t)1 << 32;
    last = now;
    return high | now;
}

static void read_channels(int16_t *out) {
    for (int c = 0; c < n_ch; c++) /* 12-bit unipolar -> signed, 16-bit full scale */
        out[c] = (int16_t)((analogRead(ADC_PINS[c]) - 2048) * 16);
}

static void on_tick(void) {
    uint64_t idx = sample_clock++;
    if (head - tail >= RING) { /* host not reading fast enough: drop this sample */
        dropped++;
        return;
    }
    uint32_t slot = head % RING;
    read_channels(ring[slot]);
    ring_dig[slot] = (uint8_t)(digitalRead(TRIGGER_IN_PIN) ? 1 : 0);
    ring_index[slot] = idx;
    head++;
}

static void send_frame(size_t n) {
    if (n) Serial.write(wire, hrx_wire_encode(frame, n, wire));
}

static void respond(const hrx_command_t *c, uint16_t reason) {
    send_frame(hrx_build_response(frame, sizeof frame, 0, c->request_id, c->opcode,
                                  reason != HRX_R_OK, reason, hrx_reason_text(reason)));
}

static void send_identity(void) {
    hrx_identity_t id;
    memset(&id, 0, sizeof id);
    id.kind = HRX_KIND_AMPLIFIER;
    id.protocol_version = HRX_PROTOCOL_VERSION;
    id.fw_major = 1;
    id.adc_bits = ADC_BITS;
    id.n_channels = n_ch;
    id.n_scales = 1;
    id.sample_rate_Hz = rate_hz;
    id.gain = GAIN;
    id.highpass_Hz = HIGHPASS_HZ;
    id.lowpass_Hz = LOWPASS_HZ;
    strcpy(id.model, "hrx-amp16");
    strcpy(id.serial, "A0001");
    send_frame(hrx_build_identity(frame, sizeof frame, 0, &id, &SCALE_V_PER_COUNT));
}

static void send_status(void) {
    hrx_status_t st;
    memset(&st, 0, sizeof st);
    st.device_time_us = micros64();
    st.state = streaming ? HRX_ST_STREAMING : 0;
    st.blocks_sent = blocks_sent;
    st.frames_received = frames_received;
    st.rx_errors = hrx_counters_errors(&rx.counters);
    st.dropped_samples = dropped;
    send_frame(hrx_build_status(frame, sizeof frame, 0, &st));
}

static uint16_t configure(const uint8_t *a) {
    uint32_t rate = hrx_get_u32(a);
    uint16_t spb = hrx_get_u16(a + 4);
    uint8_t ch = a[6];
    if (streaming) return HRX_R_BUSY;
    if (ch < 1 || ch > MAX_CH || rate < 1 || rate > 20000 || spb < 1 || spb > RING / 2 ||
        HRX_BLOCK_FRAME_LEN(spb, ch) > HRX_MAX_FRAME_LEN)
        return HRX_R_BAD_CONFIG;
    n_ch = ch;
    rate_hz = rate;
    block_len = spb;
    return HRX_R_OK;
}

static void start(void) {
    noInterrupts();
    head = tail = 0;
    sample_clock = 0;
    dropped = 0;
    interrupts();
    seq = 0;
    streaming = true;
    timer.begin(on_tick, 1000000.0f / (float)rate_hz);
}

static void stop(void) {
    timer.end();
    streaming = false;
}

static void execute(const hrx_command_t *c) {
    static const int8_t ARGS[] = {-1, 0, 8, -1, 0, 0, -1, -1, -1, -1, 0, 0}; /* by opcode */
    if (c->opcode == 0 || c->opcode > HRX_OP_GET_STATUS) return respond(c, HRX_R_UNKNOWN_OPCODE);
    if (ARGS[c->opcode] < 0) return respond(c, HRX_R_NOT_SUPPORTED);
    if (c->n_args != (size_t)ARGS[c->opcode]) return respond(c, HRX_R_BAD_ARGUMENTS);
    uint16_t why = HRX_R_OK;
    switch (c->opcode) {
    case HRX_OP_IDENTIFY: send_identity(); break;
    case HRX_OP_CONFIGURE_AMPLIFIER: why = configure(c->args); break;
    case HRX_OP_START: if (streaming) why = HRX_R_BUSY; else start(); break;
    case HRX_OP_STOP: stop(); break;
    case HRX_OP_GET_STATUS: send_status(); break;
    default: break; /* HEARTBEAT: just answer */
    }
    respond(c, why);
}

/* send one block if enough samples are stored (or a drop cut the current block short) */
static bool send_block(void) {
    uint32_t avail = head - tail;
    if (avail == 0) return false;
    uint64_t first = ring_index[tail % RING];
    uint16_t n = 0;
    while (n < block_len && n < avail && ring_index[(tail + n) % RING] == first + n) n++;
    if (n < block_len && n == avail) return false; /* wait for more samples */
    for (uint16_t i = 0; i < n; i++) {
        uint32_t slot = (tail + i) % RING;
        memcpy(block + (size_t)i * n_ch, ring[slot], (size_t)n_ch * sizeof(int16_t));
        block_dig[i] = ring_dig[slot];
    }
    tail += n;
    send_frame(hrx_build_sample_block(frame, sizeof frame, 0, seq++, first, n, n_ch, block,
                                      block_dig));
    blocks_sent++;
    return true;
}

void setup() {
    pinMode(TRIGGER_IN_PIN, INPUT);
    analogReadResolution(ADC_BITS);
    Serial.begin(115200); /* USB CDC: the baud rate is ignored */
    hrx_decoder_init(&rx, rx_buf, sizeof rx_buf);
    static const uint8_t delimiter = 0;
    Serial.write(&delimiter, 1); /* lets a host that opened the port mid-frame resync */
}

void loop() {
    hrx_frame_t f;
    while (Serial.available() > 0) {
        if (!hrx_decoder_push(&rx, (uint8_t)Serial.read(), &f)) continue;
        frames_received++;
        if (f.type != HRX_T_COMMAND) continue;
        hrx_command_t c;
        hrx_get_command(&f, &c);
        execute(&c);
    }
    while (streaming && send_block()) {
    }
    micros64(); /* keep the clock extension current */
}
