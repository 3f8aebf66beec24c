/**
 * What a command needs beyond parsing, its config and the control socket: the stores, the
 * deployer, the publisher... loaded when the command does its work in this process. A command
 * that the running node carries out (publish, verify, activate, status) needs none of it, and
 * loading it all took ~0.1 s of every start.
 */
export const library = () => import('../index.js');
