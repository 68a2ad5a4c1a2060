/* stim_safety.c - see stim_safety.h */
#include "stim_safety.h"

#include "hreflex_proto.h"

uint16_t hrx_check_stimulus(const hrx_stim_limits_t *lim, uint32_t intensity_uA,
                            uint32_t pulse_width_us) {
    if (intensity_uA > lim->max_intensity_uA) return HRX_R_INTENSITY_LIMIT;
    if (pulse_width_us == 0 || pulse_width_us > lim->max_pulse_width_us)
        return HRX_R_PULSE_WIDTH_LIMIT;
    return HRX_R_OK;
}

uint16_t hrx_check_rate(const hrx_stim_limits_t *lim, uint64_t since_last_us) {
    /* since_last_us >= 1e9 / max_rate_mHz, without division or overflow */
    if (lim->max_rate_mHz == 0) return HRX_R_RATE_LIMIT;
    if (since_last_us >= 1000000000u) return HRX_R_OK;
    return since_last_us * lim->max_rate_mHz >= 1000000000u ? HRX_R_OK : HRX_R_RATE_LIMIT;
}

void hrx_stim_init(hrx_stim_state_t *s, const hrx_stim_limits_t *lim, uint64_t now_us) {
    hrx_stim_state_t zero = {0};
    *s = zero;
    s->limits = *lim;
    s->heartbeat_timeout_ms = HRX_HEARTBEAT_DEFAULT_MS;
    s->last_heartbeat_us = now_us;
}

uint16_t hrx_stim_configure(hrx_stim_state_t *s, uint32_t heartbeat_timeout_ms) {
    if (heartbeat_timeout_ms < HRX_HEARTBEAT_MIN_MS || heartbeat_timeout_ms > HRX_HEARTBEAT_MAX_MS)
        return HRX_R_BAD_CONFIG;
    s->heartbeat_timeout_ms = heartbeat_timeout_ms;
    return HRX_R_OK;
}

uint16_t hrx_stim_set(hrx_stim_state_t *s, uint32_t intensity_uA, uint32_t pulse_width_us) {
    uint16_t why = hrx_check_stimulus(&s->limits, intensity_uA, pulse_width_us);
    if (why == HRX_R_OK) {
        s->intensity_uA = intensity_uA;
        s->pulse_width_us = pulse_width_us;
        s->stimulus_set = 1;
    }
    return why;
}

uint16_t hrx_stim_arm(hrx_stim_state_t *s, uint64_t now_us) {
    if (!s->stimulus_set) return HRX_R_NO_STIMULUS;
    s->armed = 1;
    s->watchdog_tripped = 0;
    s->last_heartbeat_us = now_us;
    return HRX_R_OK;
}

uint16_t hrx_stim_fire(hrx_stim_state_t *s, uint64_t now_us) {
    if (!s->armed) return HRX_R_NOT_ARMED;
    if (s->has_pulsed && hrx_check_rate(&s->limits, now_us - s->last_pulse_us) != HRX_R_OK)
        return HRX_R_RATE_LIMIT;
    s->has_pulsed = 1;
    s->last_pulse_us = now_us;
    s->pulses++;
    return HRX_R_OK;
}

void hrx_stim_disarm(hrx_stim_state_t *s, uint16_t reason) {
    if (s->armed) s->last_disarm_reason = reason;
    s->armed = 0;
}

void hrx_stim_heartbeat(hrx_stim_state_t *s, uint64_t now_us) { s->last_heartbeat_us = now_us; }

int hrx_stim_tick(hrx_stim_state_t *s, uint64_t now_us) {
    if (!s->armed) return 0;
    if (now_us - s->last_heartbeat_us < (uint64_t)s->heartbeat_timeout_ms * 1000u) return 0;
    hrx_stim_disarm(s, HRX_R_WATCHDOG);
    s->watchdog_tripped = 1;
    s->watchdog_trips++;
    return 1;
}
