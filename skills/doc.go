// Package skills holds the SKILL.md files an agent reads to use l402, one
// directory per task, and the tests that keep them true: every command
// they show exists with its flags, and the itests run every ```sh block on
// regtest.
package skills
