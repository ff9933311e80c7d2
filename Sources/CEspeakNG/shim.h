#ifndef LIPSYNC_CESPEAKNG_SHIM_H
#define LIPSYNC_CESPEAKNG_SHIM_H
#include <espeak-ng/speak_lib.h>
#endif
