/* SPDX-License-Identifier: ISC */
/* Time in microseconds: wall clock for records, monotonic for intervals. */
#ifndef ALIA_CLOCK_H
#define ALIA_CLOCK_H

#include <stdint.h>

/* Microseconds since the Unix epoch. */
int64_t clock_wall_us(void);
/* Microseconds of a clock that never jumps, for measuring intervals. */
int64_t clock_mono_us(void);

#endif
