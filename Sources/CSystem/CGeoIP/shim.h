#ifndef CGeoIP_SHIM_H
#define CGeoIP_SHIM_H
#include <GeoIP.h>
#endif
