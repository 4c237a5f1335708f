import { describe, expect, it } from 'vitest'
import { DEFINITIONS_ID, convertSchema } from './openapi-schema.js'

const closed = { closed: true }

describe('convertSchema', () => {
  it('points component refs into the definitions document', () => {
    expect(convertSchema({ $ref: '#/components/schemas/instance' }, closed)).toEqual({
      $ref: `${DEFINITIONS_ID}#/definitions/instance`,
    })
  })

  it('turns nullable into a null type, also next to a $ref', () => {
    expect(convertSchema({ type: 'string', nullable: true }, closed)).toEqual({
      type: ['string', 'null'],
    })
    expect(convertSchema({ type: 'string', enum: ['a'], nullable: true }, closed)).toEqual({
      type: ['string', 'null'],
      enum: ['a', null],
    })
    expect(
      convertSchema(
        { $ref: '#/components/schemas/labels', nullable: true, description: 'x' },
        closed,
      ),
    ).toEqual({ anyOf: [{ $ref: `${DEFINITIONS_ID}#/definitions/labels` }, { type: 'null' }] })
  })

  it('maps boolean exclusive bounds to draft-07 numbers', () => {
    expect(convertSchema({ type: 'integer', minimum: 0, exclusiveMinimum: true }, closed)).toEqual({
      type: 'integer',
      exclusiveMinimum: 0,
    })
    expect(
      convertSchema(
        {
          type: 'integer',
          minimum: 10,
          maximum: 20,
          exclusiveMinimum: false,
          exclusiveMaximum: false,
        },
        closed,
      ),
    ).toEqual({ type: 'integer', minimum: 10, maximum: 20 })
  })

  it('closes objects that list properties, keeps free-form maps open, drops annotations', () => {
    const out = convertSchema(
      {
        type: 'object',
        description: 'd',
        'x-go-type': 'T',
        readOnly: true,
        properties: {
          format: { type: 'string', example: 'e' },
          m: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
      closed,
    )
    expect(out).toEqual({
      type: 'object',
      additionalProperties: false,
      properties: {
        format: { type: 'string' },
        m: { type: 'object', additionalProperties: { type: 'string' } },
      },
    })
    expect(convertSchema({ type: 'object', properties: {} }, { closed: false })).toEqual({
      type: 'object',
      properties: {},
    })
  })
})
