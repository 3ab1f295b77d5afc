/* main: the warren executable; everything else lives in the cli library
 * so that the unit tests can run command lines through cli_run. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return cli_run(argc, argv);
}
