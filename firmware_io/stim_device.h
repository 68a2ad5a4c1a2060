/*
 * stim_device.h - the stimulator controller's protocol core: receives command frames, applies
 * the safety rules (stim_safety.h), drives the hardware through callbacks and sends responses,
 * STIM_EVENT, STATUS and IDENTITY frames. Portable C99, no heap; the Arduino sketch and the
 * host test driver both wrap it.
 */
#ifndef HREFLEX_STIM_DEVICE_H
#define HREFLEX_STIM_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "hreflex_proto.h"
#include "stim_safety.h"

#ifdef __cplusplus
extern "C" {
#endif

/* commands are small: a stimulator only needs room for the largest command frame */
#define HRX_STIM_RX_CAP 64u
#define HRX_STIM_TX_CAP 128u

typedef struct {
    void *ctx;
    /* send bytes to the host (serial write) */
    void (*write)(void *ctx, const uint8_t *bytes, size_t n);
    /* program the stimulator's intensity (DAC) and pulse width; called after a valid SET */
    void (*apply)(void *ctx, uint32_t intensity_uA, uint32_t pulse_width_us);
    /* enable (1) or disable (0) the output stage (arm/disarm relay or enable line) */
    void (*enable)(void *ctx, int on);
    /* deliver one pulse now; returns the pulse's sample on the amplifier's sample clock (the
       first sample at or after the onset, PROTOCOL.md 4.2) when this device counts that
       clock, else HRX_NO_SAMPLE_INDEX */
    uint64_t (*pulse)(void *ctx);
} hrx_stim_hw_t;

typedef struct {
    hrx_stim_hw_t hw;
    hrx_stim_state_t safety;
    hrx_decoder_t rx;
    uint8_t rx_buf[HRX_STIM_RX_CAP];
    uint8_t tx_frame[HRX_STIM_TX_CAP];
    uint8_t tx_wire[HRX_COBS_MAX(HRX_STIM_TX_CAP) + 1u];
    hrx_identity_t identity;
    uint8_t stream;
    uint32_t frames_received;
} hrx_stim_device_t;

/* identity: model, serial, firmware version (the limits are taken from lim) */
void hrx_stim_device_init(hrx_stim_device_t *d, const hrx_stim_limits_t *lim,
                          const hrx_stim_hw_t *hw, const char *model, const char *serial,
                          uint8_t fw_major, uint8_t fw_minor, uint8_t fw_patch, uint64_t now_us);
/* run the watchdog; sends a STATUS frame when it disarms the device */
void hrx_stim_device_poll(hrx_stim_device_t *d, uint64_t now_us);
/* feed received bytes; every complete command is executed and answered */
void hrx_stim_device_rx(hrx_stim_device_t *d, const uint8_t *bytes, size_t n, uint64_t now_us);
/* send a STATUS frame now */
void hrx_stim_device_send_status(hrx_stim_device_t *d, uint64_t now_us);

#ifdef __cplusplus
}
#endif

#endif /* HREFLEX_STIM_DEVICE_H */
