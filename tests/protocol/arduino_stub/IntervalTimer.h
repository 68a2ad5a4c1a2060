/* Stand-in for the Teensy IntervalTimer (type-checking only). */
#ifndef HRX_INTERVALTIMER_STUB_H
#define HRX_INTERVALTIMER_STUB_H
class IntervalTimer {
  public:
    bool begin(void (*fn)(), float microseconds) { (void)fn; (void)microseconds; return true; }
    void end() {}
};
#endif
