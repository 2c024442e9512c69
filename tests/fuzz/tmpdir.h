/*
 * The scratch directory a fuzz target writes its files in, removed with
 * everything in it when the fuzzer exits: tmpdir_remove(dir) from an
 * atexit handler.
 */
#ifndef FUZZ_TMPDIR_H
#define FUZZ_TMPDIR_H

#include <ftw.h>
#include <stdio.h>

static int
tmpdir_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void
tmpdir_remove(const char *dir)
{
	(void)nftw(dir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
