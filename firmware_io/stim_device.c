/* stim_device.c - see stim_device.h */
#include "stim_device.h"

#include <string.h>

static void send(hrx_stim_device_t *d, size_t frame_len) {
    if (frame_len == 0) return;
    d->hw.write(d->hw.ctx, d->tx_wire, hrx_wire_encode(d->tx_frame, frame_len, d->tx_wire));
}

static void respond(hrx_stim_device_t *d, const hrx_command_t *c, uint16_t reason) {
    send(d, hrx_build_response(d->tx_frame, sizeof d->tx_frame, d->stream, c->request_id,
                               c->opcode, reason != HRX_R_OK, reason, hrx_reason_text(reason)));
}

void hrx_stim_device_init(hrx_stim_device_t *d, const hrx_stim_limits_t *lim,
                          const hrx_stim_hw_t *hw, const char *model, const char *serial,
                          uint8_t fw_major, uint8_t fw_minor, uint8_t fw_patch, uint64_t now_us) {
    memset(d, 0, sizeof *d);
    d->hw = *hw;
    hrx_stim_init(&d->safety, lim, now_us);
    hrx_decoder_init(&d->rx, d->rx_buf, sizeof d->rx_buf);
    d->identity.kind = HRX_KIND_STIMULATOR;
    d->identity.protocol_version = HRX_PROTOCOL_VERSION;
    d->identity.fw_major = fw_major;
    d->identity.fw_minor = fw_minor;
    d->identity.fw_patch = fw_patch;
    d->identity.max_intensity_uA = lim->max_intensity_uA;
    d->identity.max_pulse_width_us = lim->max_pulse_width_us;
    d->identity.max_rate_mHz = lim->max_rate_mHz;
    strncpy(d->identity.model, model, 16);
    strncpy(d->identity.serial, serial, 16);
    d->hw.enable(d->hw.ctx, 0);
}

void hrx_stim_device_send_status(hrx_stim_device_t *d, uint64_t now_us) {
    const hrx_stim_state_t *s = &d->safety;
    hrx_status_t st = {0};
    st.device_time_us = now_us;
    st.state = (uint8_t)((s->armed ? HRX_ST_ARMED : 0) |
                         (s->watchdog_tripped ? HRX_ST_WATCHDOG_TRIPPED : 0) |
                         (s->stimulus_set ? HRX_ST_STIMULUS_SET : 0));
    st.last_disarm_reason = s->last_disarm_reason;
    st.pulses_delivered = s->pulses;
    st.frames_received = d->frames_received;
    st.rx_errors = hrx_counters_errors(&d->rx.counters);
    st.watchdog_trips = s->watchdog_trips;
    st.heartbeat_timeout_ms = s->heartbeat_timeout_ms;
    send(d, hrx_build_status(d->tx_frame, sizeof d->tx_frame, d->stream, &st));
}

void hrx_stim_device_poll(hrx_stim_device_t *d, uint64_t now_us) {
    if (hrx_stim_tick(&d->safety, now_us)) {
        d->hw.enable(d->hw.ctx, 0);
        hrx_stim_device_send_status(d, now_us);
    }
}

/* expected argument bytes per opcode, -1 for opcodes this device does not support */
static int arg_len(uint8_t opcode) {
    switch (opcode) {
    case HRX_OP_CONFIGURE_STIMULATOR: return 4;
    case HRX_OP_SET_STIMULUS: return 8;
    case HRX_OP_IDENTIFY: case HRX_OP_ARM: case HRX_OP_FIRE: case HRX_OP_DISARM:
    case HRX_OP_HEARTBEAT: case HRX_OP_GET_STATUS: return 0;
    default: return -1;
    }
}

static void execute(hrx_stim_device_t *d, const hrx_command_t *c, uint64_t now_us) {
    hrx_stim_state_t *s = &d->safety;
    uint16_t why = HRX_R_OK;
    if (c->opcode == 0 || c->opcode > HRX_OP_GET_STATUS) {
        respond(d, c, HRX_R_UNKNOWN_OPCODE);
        return;
    }
    if (arg_len(c->opcode) < 0) {
        respond(d, c, HRX_R_NOT_SUPPORTED);
        return;
    }
    if (c->n_args != (size_t)arg_len(c->opcode)) {
        respond(d, c, HRX_R_BAD_ARGUMENTS);
        return;
    }
    switch (c->opcode) {
    case HRX_OP_IDENTIFY:
        send(d, hrx_build_identity(d->tx_frame, sizeof d->tx_frame, d->stream, &d->identity, 0));
        break;
    case HRX_OP_CONFIGURE_STIMULATOR: why = hrx_stim_configure(s, hrx_get_u32(c->args)); break;
    case HRX_OP_SET_STIMULUS:
        why = hrx_stim_set(s, hrx_get_u32(c->args), hrx_get_u32(c->args + 4));
        if (why == HRX_R_OK) d->hw.apply(d->hw.ctx, s->intensity_uA, s->pulse_width_us);
        break;
    case HRX_OP_ARM:
        why = hrx_stim_arm(s, now_us);
        if (why == HRX_R_OK) d->hw.enable(d->hw.ctx, 1);
        break;
    case HRX_OP_FIRE:
        why = hrx_stim_fire(s, now_us);
        if (why == HRX_R_OK) {
            hrx_stim_event_t ev;
            ev.sample_index = d->hw.pulse(d->hw.ctx);
            ev.pulse_counter = s->pulses;
            ev.device_time_us = now_us;
            ev.intensity_uA = s->intensity_uA;
            ev.pulse_width_us = s->pulse_width_us;
            ev.request_id = c->request_id;
            send(d, hrx_build_stim_event(d->tx_frame, sizeof d->tx_frame, d->stream, &ev));
        }
        break;
    case HRX_OP_DISARM:
        hrx_stim_disarm(s, HRX_R_HOST_DISARM);
        d->hw.enable(d->hw.ctx, 0);
        break;
    case HRX_OP_HEARTBEAT: hrx_stim_heartbeat(s, now_us); break;
    case HRX_OP_GET_STATUS: hrx_stim_device_send_status(d, now_us); break;
    default: break;
    }
    respond(d, c, why);
}

void hrx_stim_device_rx(hrx_stim_device_t *d, const uint8_t *bytes, size_t n, uint64_t now_us) {
    hrx_frame_t f;
    hrx_stim_device_poll(d, now_us); /* the watchdog acts before any command is executed */
    for (size_t i = 0; i < n; i++) {
        if (!hrx_decoder_push(&d->rx, bytes[i], &f)) continue;
        d->frames_received++;
        if (f.type != HRX_T_COMMAND) continue; /* only commands are meaningful here */
        hrx_command_t c;
        hrx_get_command(&f, &c);
        execute(d, &c, now_us);
    }
}
