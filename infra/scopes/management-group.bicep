// Management-group mode: the read roles (and, when enabled, the remediation role) are assigned once at a
// management group instead of per subscription. azd deploys only subscription-scope templates, so
// scripts/postprovision.sh deploys this file with `az deployment mg create` when VIGIL_MANAGEMENT_GROUP_ID is set.
targetScope = 'managementGroup'

@description('Principal id of the Function App identity.')
param appPrincipalId string

param environmentName string

@description('Create and assign the remediation custom role.')
param remediationEnabled bool = false

// Built-in role definition ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
var readRoles = [
  'acdd72a7-3385-48ef-bd42-f606fba81ae7' // Reader
  '72fafb9e-0641-4937-9268-a91bfd8191a3' // Cost Management Reader
  '43d0d8ad-25c7-4714-9337-8ba259a9fe05' // Monitoring Reader
]

var permissions = loadJsonContent('../remediation-permissions.json')

resource readAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in readRoles: {
    name: guid(managementGroup().id, appPrincipalId, roleId)
    properties: {
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: tenantResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    }
  }
]

resource remediationRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (remediationEnabled) {
  name: guid(managementGroup().id, 'vigil-remediation', environmentName)
  properties: {
    roleName: 'Vigil remediation (${environmentName}, ${managementGroup().name})'
    description: 'Actions Vigil remediation may take; generated from infra/remediation-permissions.json.'
    type: 'customRole'
    permissions: [
      {
        actions: permissions.actions
        notActions: []
        dataActions: permissions.dataActions
        notDataActions: []
      }
    ]
    assignableScopes: [
      managementGroup().id
    ]
  }
}

resource remediationAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (remediationEnabled) {
  name: guid(managementGroup().id, appPrincipalId, 'vigil-remediation')
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: remediationRole.id
  }
}
