import base from './eslint.config.js';
export default [...base, { files: ['src/**/*.ts'], ignores: ['src/**/*.test.ts'], rules: { 'max-params': ['error', 4], 'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }] } }];
