// libsystemd's daemon API (sd_notify(3), sd_watchdog_enabled(3)): Debian's libsystemd-dev.
#include <systemd/sd-daemon.h>
