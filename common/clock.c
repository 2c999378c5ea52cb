/* SPDX-License-Identifier: ISC */
/* The two clocks every process reads, in microseconds. */
#include <time.h>

#include "common/clock.h"

static int64_t
clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
clock_wall_us(void)
{
	return clock_us(CLOCK_REALTIME);
}

int64_t
clock_mono_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}
