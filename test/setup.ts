// Tests import modules directly (not only through src/index.ts), so load the polyfills first.
import '../src/polyfills.js';
