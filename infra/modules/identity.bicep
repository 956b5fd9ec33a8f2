// User-assigned managed identities: one for the Function App, one (narrower) for Event Grid dead-lettering.

@description('Name of the Function App identity.')
param appIdentityName string

@description('Name of the Event Grid identity (dead-letter writes only).')
param eventsIdentityName string

param location string
param tags object = {}

resource appIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: appIdentityName
  location: location
  tags: tags
}

resource eventsIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: eventsIdentityName
  location: location
  tags: tags
}

output appIdentityId string = appIdentity.id
output appPrincipalId string = appIdentity.properties.principalId
output appClientId string = appIdentity.properties.clientId
output eventsIdentityId string = eventsIdentity.id
output eventsPrincipalId string = eventsIdentity.properties.principalId
