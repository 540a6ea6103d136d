#!/usr/bin/env node
import "../../dist/opsc.js";
