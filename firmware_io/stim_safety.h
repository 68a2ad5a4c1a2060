/*
 * stim_safety.h - stimulator safety rules (PROTOCOL.md, "Stimulator safety").
 *
 * Pure logic over integers in wire units (uA, us, mHz) and a caller-supplied microsecond
 * clock, so it runs unchanged on a microcontroller, in the host test driver (simulated
 * clock) and mirrored in Python (hreflex.protocol.safety). Portable C99, no heap.
 */
#ifndef HREFLEX_STIM_SAFETY_H
#define HREFLEX_STIM_SAFETY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HRX_HEARTBEAT_DEFAULT_MS 1000u
#define HRX_HEARTBEAT_MIN_MS 10u
#define HRX_HEARTBEAT_MAX_MS 60000u

typedef struct {
    uint32_t max_intensity_uA;   /* largest intensity the device may deliver */
    uint32_t max_pulse_width_us; /* largest pulse width (pulse width 0 is never valid) */
    uint32_t max_rate_mHz;       /* pulses closer than 1e9 / max_rate_mHz us apart are refused */
} hrx_stim_limits_t;

typedef struct {
    hrx_stim_limits_t limits;
    uint32_t heartbeat_timeout_ms;
    uint32_t intensity_uA, pulse_width_us; /* the stimulus set (valid when stimulus_set) */
    uint8_t stimulus_set, armed, watchdog_tripped, has_pulsed;
    uint16_t last_disarm_reason;
    uint64_t last_pulse_us, last_heartbeat_us;
    uint32_t pulses, watchdog_trips;
} hrx_stim_state_t;

/* limit checks: HRX_R_OK or the reason code for the NACK */
uint16_t hrx_check_stimulus(const hrx_stim_limits_t *lim, uint32_t intensity_uA,
                            uint32_t pulse_width_us);
uint16_t hrx_check_rate(const hrx_stim_limits_t *lim, uint64_t since_last_us);

void hrx_stim_init(hrx_stim_state_t *s, const hrx_stim_limits_t *lim, uint64_t now_us);
uint16_t hrx_stim_configure(hrx_stim_state_t *s, uint32_t heartbeat_timeout_ms);
uint16_t hrx_stim_set(hrx_stim_state_t *s, uint32_t intensity_uA, uint32_t pulse_width_us);
/* arm: needs a stimulus; counts as a heartbeat; clears the watchdog_tripped flag */
uint16_t hrx_stim_arm(hrx_stim_state_t *s, uint64_t now_us);
/* fire: armed and not faster than the rate limit; on HRX_R_OK the pulse is recorded and the
   caller must deliver it now */
uint16_t hrx_stim_fire(hrx_stim_state_t *s, uint64_t now_us);
void hrx_stim_disarm(hrx_stim_state_t *s, uint16_t reason);
void hrx_stim_heartbeat(hrx_stim_state_t *s, uint64_t now_us);
/* watchdog: call often (and before handling each command); returns 1 when it disarmed the
   device now because no heartbeat came for heartbeat_timeout_ms */
int hrx_stim_tick(hrx_stim_state_t *s, uint64_t now_us);

#ifdef __cplusplus
}
#endif

#endif /* HREFLEX_STIM_SAFETY_H */
