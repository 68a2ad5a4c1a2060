/* Minimal stand-in for the Arduino/Teensy core: just enough declarations to type-check the
   example sketches with the host compiler (tests/protocol/test_firmware_c.py). */
#ifndef HRX_ARDUINO_STUB_H
#define HRX_ARDUINO_STUB_H
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HIGH 1
#define LOW 0
#define INPUT 0
#define OUTPUT 1
enum { A0 = 14, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, A16, A17,
       A18, A19, A20, A21 };

struct StubSerial {
    void begin(unsigned long) {}
    int available() { return 0; }
    int read() { return -1; }
    size_t write(const uint8_t *, size_t n) { return n; }
};
extern StubSerial Serial;

uint32_t micros();
void delayMicroseconds(uint32_t us);
void pinMode(int pin, int mode);
void digitalWrite(int pin, int value);
int digitalRead(int pin);
int analogRead(int pin);
void analogWrite(int pin, int value);
void analogReadResolution(int bits);
void analogWriteResolution(int bits);
void noInterrupts();
void interrupts();
#endif
