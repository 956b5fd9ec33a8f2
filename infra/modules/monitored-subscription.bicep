// Everything Vigil needs inside one monitored subscription:
//  - read roles for the app identity (unless a management group assignment covers them),
//  - the remediation role assignment (only when remediation is enabled),
//  - an Event Grid system topic for the subscription's ARM events,
//  - a daily Cost Management export (FOCUS by default) into Vigil's storage.
targetScope = 'subscription'

param location string
param tags object = {}

@description('Principal id of the Function App identity.')
param appPrincipalId string

@description('Assign Reader, Cost Management Reader and Monitoring Reader here (false when a management group assignment covers this subscription).')
param assignReadRoles bool = true

@description('GUID of the remediation custom role; empty when remediation is disabled.')
param remediationRoleGuid string = ''

@description('Resource group holding this subscription\'s system topic.')
param eventsResourceGroupName string

@description('Create that resource group (false when it is Vigil\'s own resource group).')
param createEventsResourceGroup bool

param topicName string
param eventsIdentityId string

param costExportEnabled bool
param costExportName string
param costExportDataset string
param costExportDatasetVersion string
param costExportFormat string
param costExportStartDate string
param storageAccountId string
param exportsContainerName string

// Built-in role definition ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
var readRoles = [
  'acdd72a7-3385-48ef-bd42-f606fba81ae7' // Reader
  '72fafb9e-0641-4937-9268-a91bfd8191a3' // Cost Management Reader
  '43d0d8ad-25c7-4714-9337-8ba259a9fe05' // Monitoring Reader
]

resource readAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in (assignReadRoles ? readRoles : []): {
    name: guid(subscription().id, appPrincipalId, roleId)
    properties: {
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]

resource remediationAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(remediationRoleGuid)) {
  name: guid(subscription().id, appPrincipalId, 'vigil-remediation')
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', remediationRoleGuid)
  }
}

resource eventsGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = if (createEventsResourceGroup) {
  name: eventsResourceGroupName
  location: location
  tags: tags
}

module topic 'system-topic.bicep' = {
  name: 'vigil-subscription-topic'
  scope: resourceGroup(eventsResourceGroupName)
  params: {
    name: topicName
    location: 'global'
    tags: tags
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
    eventsIdentityId: eventsIdentityId
  }
  dependsOn: [
    eventsGroup
  ]
}

// The export writes with its own system-assigned identity; main.bicep grants it Storage Blob Data
// Contributor on the exports container (shared keys are disabled on the account).
resource export 'Microsoft.CostManagement/exports@2025-03-01' = if (costExportEnabled) {
  name: costExportName
  location: location
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    exportDescription: 'Vigil daily cost export'
    format: costExportFormat
    compressionMode: (costExportFormat == 'Parquet') ? 'snappy' : 'gzip'
    dataOverwriteBehavior: 'OverwritePreviousReport'
    partitionData: true
    definition: {
      type: costExportDataset
      timeframe: 'MonthToDate'
      dataSet: {
        granularity: 'Daily'
        configuration: {
          dataVersion: costExportDatasetVersion
        }
      }
    }
    deliveryInfo: {
      destination: {
        type: 'AzureBlob'
        resourceId: storageAccountId
        container: exportsContainerName
        rootFolderPath: 'subscriptions/${subscription().subscriptionId}'
      }
    }
    schedule: {
      status: 'Active'
      recurrence: 'Daily'
      recurrencePeriod: {
        from: costExportStartDate
        to: '2099-12-31T00:00:00Z'
      }
    }
  }
}

output exportPrincipalId string = costExportEnabled ? export.identity.principalId : ''
output topicName string = topic.outputs.name
output topicResourceGroup string = eventsResourceGroupName
