export * from './channel';
export * from './services';
export * from './client';
export * from './server';
export * from './typed';
