/*
 * The daemon's two entry points, for cmd/main.c: the daemon itself (the
 * hidden "__daemon" word) and the shim every instance starts as
 * ("__exec").  The CLI includes nothing else of core/.
 */
#ifndef CORE_DAEMON_H
#define CORE_DAEMON_H

int daemon_main(const char *);
int exec_shim_main(int, char **);
int keeper_main(const char *); /* "__keeper": core/keeper.c */
int upgrade_check_main(void);  /* "__upgrade-check": core/upgrade.c */

#endif
