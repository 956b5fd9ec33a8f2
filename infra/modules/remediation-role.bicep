// The remediation custom role. Its actions are exactly infra/remediation-permissions.json, the single
// source of truth for what remediation may do (tests/infra/test_infra_parity.py keeps it equal to the union of
// the permissions the remediation actions declare in code). Created only when remediation is enabled.
targetScope = 'subscription'

param environmentName string

@description('Scopes the role can be assigned at: /subscriptions/<id> paths.')
param assignableScopes array

var permissions = loadJsonContent('../remediation-permissions.json')

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'vigil-remediation', environmentName)
  properties: {
    roleName: 'Vigil remediation (${environmentName})'
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
    assignableScopes: assignableScopes
  }
}

output roleGuid string = role.name
