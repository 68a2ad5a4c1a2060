/*
 * stimulator_controller.ino - hreflex stimulator controller (Teensy 3.6/4.x or similar).
 *
 * Drives a constant-current stimulator (e.g. Digitimer DS5: analog input voltage sets the
 * output current; or a DS7A-type unit triggered by TTL) and speaks the hreflex protocol
 * (../PROTOCOL.md) on the USB serial port. All protocol handling and every safety rule live
 * in the portable core (stim_device.c, stim_safety.c, hreflex_proto.c); this file only maps
 * the hardware callbacks onto pins and feeds the core with bytes and a microsecond clock.
 *
 * Build: copy (or symlink) hreflex_proto.[ch], stim_safety.[ch] and stim_device.[ch] from
 * firmware_io/ into this sketch folder, then compile with the Arduino IDE / arduino-cli.
 *
 * Hardware (adapt to your wiring):
 *   DAC_PIN      analog output -> stimulator analog input (through a 0-10 V driver stage
 *                for a DS5); level proportional to intensity, FULL_SCALE_UA at full scale
 *   TRIGGER_PIN  TTL trigger to the stimulator AND to the amplifier's digital input (bit 0)
 *   ENABLE_PIN   output-stage enable (relay / stimulator enable input), high = armed
 * The limits below are the device limits reported in IDENTITY and enforced by the core;
 * set them at or below what your stimulator, electrodes and ethics approval allow.
 */
#include <Arduino.h>

#include "hreflex_proto.h"
#include "stim_device.h"

static const int DAC_PIN = A21;     /* Teensy 3.6 DAC0; use an external SPI DAC on a 4.x */
static const int TRIGGER_PIN = 2;
static const int ENABLE_PIN = 3;
static const int DAC_BITS = 12;
static const uint32_t FULL_SCALE_UA = 100000u; /* stimulator current at full DAC scale */

static const hrx_stim_limits_t LIMITS = {
    50000u, /* max intensity: 50 mA */
    1000u,  /* max pulse width: 1 ms */
    10000u  /* max rate: 10 Hz */
};

static hrx_stim_device_t dev;
static uint32_t dac_level; /* DAC code for the intensity set, applied only during a pulse */

/* 64-bit microsecond clock from the wrapping 32-bit micros() (call at least every 71 min) */
static uint64_t micros64(void) {
    static uint32_t last;
    static uint64_t high;
    uint32_t now = micros();
    if (now < last) high += (uint64_t)1 << 32;
    last = now;
    return high | now;
}

static void hw_write(void *ctx, const uint8_t *bytes, size_t n) {
    (void)ctx;
    Serial.write(bytes, n);
}

static void hw_apply(void *ctx, uint32_t intensity_uA, uint32_t pulse_width_us) {
    (void)ctx;
    (void)pulse_width_us; /* the width is timed in hw_pulse from the core's state */
    /* truncating division: the DAC never outputs more than the requested current */
    dac_level = (uint32_t)(((uint64_t)intensity_uA * ((1u << DAC_BITS) - 1u)) / FULL_SCALE_UA);
}

static void hw_enable(void *ctx, int on) {
    (void)ctx;
    digitalWrite(ENABLE_PIN, on ? HIGH : LOW);
    if (!on) analogWrite(DAC_PIN, 0);
}

static uint64_t hw_pulse(void *ctx) {
    (void)ctx;
    noInterrupts();
    digitalWrite(TRIGGER_PIN, HIGH);
    analogWrite(DAC_PIN, (int)dac_level);
    delayMicroseconds(dev.safety.pulse_width_us);
    analogWrite(DAC_PIN, 0);
    digitalWrite(TRIGGER_PIN, LOW);
    interrupts();
    return HRX_NO_SAMPLE_INDEX; /* no ADC clock here: the amplifier sees the trigger copy */
}

void setup() {
    pinMode(TRIGGER_PIN, OUTPUT);
    digitalWrite(TRIGGER_PIN, LOW);
    pinMode(ENABLE_PIN, OUTPUT);
    digitalWrite(ENABLE_PIN, LOW);
    analogWriteResolution(DAC_BITS);
    analogWrite(DAC_PIN, 0);
    Serial.begin(115200); /* USB CDC: the baud rate is ignored */
    static const hrx_stim_hw_t hw = {NULL, hw_write, hw_apply, hw_enable, hw_pulse};
    hrx_stim_device_init(&dev, &LIMITS, &hw, "hrx-stim", "S0001", 1, 0, 0, micros64());
    static const uint8_t delimiter = 0;
    Serial.write(&delimiter, 1); /* lets a host that opened the port mid-frame resync */
}

void loop() {
    uint8_t buf[64];
    size_t n = 0;
    while (n < sizeof buf && Serial.available() > 0) buf[n++] = (uint8_t)Serial.read();
    uint64_t now = micros64();
    if (n) hrx_stim_device_rx(&dev, buf, n, now); /* runs the watchdog first */
    else hrx_stim_device_poll(&dev, now);
}
