#ifndef CPcap_SHIM_H
#define CPcap_SHIM_H
#include <pcap/pcap.h>
#endif
