/**
 * The OpenAPI document at /openapi.json and Swagger UI at /docs, without API
 * keys, under a Content Security Policy allowing Swagger UI's styles.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import { openApiDocument } from '../openapi/document.ts';
import { DOCS_POLICY, usePolicy } from '../security-headers.ts';

export const docsRoutes: FastifyPluginAsync = async (app) => {
  usePolicy(app, DOCS_POLICY);
  const document = openApiDocument();
  app.get('/openapi.json', async () => document);
  await app.register(swagger, { mode: 'static', specification: { document: document as never } });
  await app.register(swaggerUi, { routePrefix: '/docs' });
};
