#ifndef SPILLWAY_CSPANDSP_SHIM_H
#define SPILLWAY_CSPANDSP_SHIM_H

// Only spandsp's G.722 codec: its umbrella header would pull in the fax code and libtiff.
#include <stdint.h>
#include <spandsp/telephony.h>
#include <spandsp/g722.h>

#endif
