/** The OpenAPI document at /openapi.json and Swagger UI at /docs, without API keys. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import { openApiDocument } from '../openapi/document.ts';

export const docsRoutes: FastifyPluginAsync = async (app) => {
  const document = openApiDocument();
  app.get('/openapi.json', async () => document);
  await app.register(swagger, { mode: 'static', specification: { document: document as never } });
  await app.register(swaggerUi, { routePrefix: '/docs' });
};
