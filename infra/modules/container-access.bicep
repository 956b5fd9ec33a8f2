// Storage Blob Data Contributor on one container for a list of principals (the Cost Management exports'
// system-assigned identities, which exist only after the exports are created).

param storageAccountName string
param containerName string

@description('Principal ids to grant; empty strings are ignored.')
param principalIds array

// Storage Blob Data Contributor: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: containerName
}

resource writers 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in filter(principalIds, id => !empty(id)): {
    name: guid(account.id, containerName, principalId, storageBlobDataContributor)
    scope: container
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    }
  }
]
