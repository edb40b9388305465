// e2e steps wait on real controllers (grace periods, scheduling): generous per-test timeout.
import { jest } from "@jest/globals";

jest.setTimeout(240_000);
