// Vigil's storage account: identity-only access (no shared keys), TLS 1.2, no public blobs.
// Containers, queues and tables come from infra/app-settings.json (generated from vigil/settings.py),
// so the names the code uses are the names that exist.

param name string
param location string
param tags object = {}

@description('Blob containers to create (the Flex deployment container included).')
param containerNames array

@description('Queues to create.')
param queueNames array

@description('Tables to create.')
param tableNames array

@description('Container Event Grid dead-letters undeliverable events into.')
param deadLetterContainerName string

@description('Principal id of the Function App identity: Blob Data Owner, Queue and Table Data Contributor on this account.')
param appPrincipalId string

@description('Principal id of the Event Grid identity: Blob Data Contributor on the dead-letter container only.')
param eventsPrincipalId string

@description('Days deleted blobs and containers can be restored.')
param softDeleteDays int = 7

// Built-in role definition ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
// The app identity's roles, as "Connecting to host storage with an identity" in
// https://learn.microsoft.com/azure/azure-functions/functions-reference names them: Storage Blob Data Owner for
// the host (AzureWebJobsStorage: keys, leases, timer schedule monitors), Storage Queue Data Contributor for the
// queue triggers and Storage Table Data Contributor for the host's diagnostic events and Vigil's state table.
// tests/infra/test_infra_bicep.py pins this list.
var appRoles = [
  storageBlobDataOwner
  storageQueueDataContributor
  storageTableDataContributor
]

// The account must stay reachable from the internet: Flex Consumption without a virtual network, Event Grid
// dead-lettering and Cost Management exports all reach it over public endpoints, authenticated with Entra ID.
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_35: public endpoint by design (no VNet in the default deployment); every request needs an Entra token because shared keys are disabled
  //checkov:skip=CKV_AZURE_59: same as CKV_AZURE_35: public network access is required by Flex Consumption without VNet integration, Event Grid and Cost Management exports
  //checkov:skip=CKV_AZURE_206: locally redundant storage is the cost-conscious default; all data here is re-derivable (exports can be re-run, state is rebuilt by the next sweep)
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containerNames: {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queue in queueNames: {
    parent: queueService
    name: queue
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in tableNames: {
    parent: tableService
    name: table
  }
]

resource appRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in appRoles: {
    name: guid(account.id, appPrincipalId, roleId)
    scope: account
    properties: {
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: deadLetterContainerName
}

resource eventsDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, eventsPrincipalId, deadLetterContainerName, storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    principalId: eventsPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
  }
  dependsOn: [
    containers
  ]
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
